"""Staff pages of event webhooks (namespace `messaging`)."""

from django.urls import path

from messaging.hooks_out import views

urlpatterns = [
    path("integrations/webhooks/", views.subscription_index, name="webhook-list"),
    path("integrations/webhooks/new/", views.subscription_new, name="webhook-create"),
    path("integrations/webhooks/<int:pk>/", views.subscription_detail, name="webhook-detail"),
    path("integrations/webhooks/<int:pk>/edit/", views.subscription_edit, name="webhook-edit"),
    path(
        "integrations/webhooks/<int:pk>/delete/",
        views.subscription_delete_view,
        name="webhook-delete",
    ),
    path(
        "integrations/webhooks/<int:pk>/rotate-secret/",
        views.subscription_rotate_secret_view,
        name="webhook-rotate-secret",
    ),
    path(
        "integrations/webhooks/<int:pk>/replay/",
        views.subscription_replay,
        name="webhook-replay",
    ),
]
