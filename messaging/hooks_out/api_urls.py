"""API of event webhook subscriptions."""

from django.urls import path

from messaging.hooks_out import api

urlpatterns = [
    path(
        "webhook-subscriptions/",
        api.SubscriptionListView.as_view(),
        name="webhook-subscription-list",
    ),
    path(
        "webhook-subscriptions/<int:pk>/",
        api.SubscriptionDetailView.as_view(),
        name="webhook-subscription-detail",
    ),
    path(
        "webhook-subscriptions/<int:pk>/rotate-secret/",
        api.SubscriptionRotateSecretView.as_view(),
        name="webhook-subscription-rotate-secret",
    ),
    path(
        "webhook-subscriptions/<int:pk>/deliveries/",
        api.SubscriptionDeliveriesView.as_view(),
        name="webhook-subscription-deliveries",
    ),
    path(
        "webhook-subscriptions/<int:pk>/replay/",
        api.SubscriptionReplayView.as_view(),
        name="webhook-subscription-replay",
    ),
]
