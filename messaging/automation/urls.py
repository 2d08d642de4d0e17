"""Staff pages of automation: the auto-reply rules and the FAQ the automatic responder uses."""

from django.urls import path

from messaging.automation import views

urlpatterns = [
    path("auto-replies/", views.autoreply_list, name="autoreply-list"),
    path("auto-replies/new/", views.autoreply_create, name="autoreply-create"),
    path(
        "auto-replies/template-fields/",
        views.autoreply_template_fields,
        name="autoreply-template-fields",
    ),
    path("auto-replies/<int:pk>/", views.autoreply_edit, name="autoreply-edit"),
    path("auto-replies/<int:pk>/enable/", views.autoreply_enable, name="autoreply-enable"),
    path("auto-replies/<int:pk>/disable/", views.autoreply_disable, name="autoreply-disable"),
    path("auto-replies/<int:pk>/delete/", views.autoreply_delete, name="autoreply-delete"),
    path("faq/", views.faq_list, name="faq-list"),
    path("inbox/faq/", views.faq_moved, name="faq-moved"),
    path("faq/new/", views.faq_create, name="faq-create"),
    path("faq/<int:pk>/", views.faq_edit, name="faq-edit"),
    path("faq/<int:pk>/enable/", views.faq_enable, name="faq-enable"),
    path("faq/<int:pk>/disable/", views.faq_disable, name="faq-disable"),
    path("faq/<int:pk>/delete/", views.faq_delete, name="faq-delete"),
]
