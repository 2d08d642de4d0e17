"""Staff pages of automation: the FAQ the automatic responder answers from."""

from django.urls import path

from messaging.automation import views as faq

urlpatterns = [
    path("inbox/faq/", faq.faq_list, name="faq-list"),
    path("inbox/faq/new/", faq.faq_create, name="faq-create"),
    path("inbox/faq/<int:pk>/", faq.faq_edit, name="faq-edit"),
    path("inbox/faq/<int:pk>/delete/", faq.faq_delete, name="faq-delete"),
]
