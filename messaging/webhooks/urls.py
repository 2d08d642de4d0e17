"""Webhook endpoints, mounted at /webhooks/ (the trailing slash is optional: a POST cannot
follow APPEND_SLASH's redirect)."""

from django.urls import re_path

from messaging.webhooks import views as webhooks

app_name = "webhooks"

urlpatterns = [
    re_path(r"^whatsapp/?$", webhooks.whatsapp_webhook, name="whatsapp"),
    re_path(r"^myoperator/?$", webhooks.myoperator_webhook, name="myoperator"),
]
