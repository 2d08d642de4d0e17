"""API of messages: send one, list them, read one, send an unconfirmed one again."""

from django.urls import path

from messaging.sending import api

urlpatterns = [
    path("messages/", api.MessageListCreateView.as_view(), name="message-list"),
    path("messages/<uuid:id>/", api.MessageDetailView.as_view(), name="message-detail"),
    path("messages/<uuid:id>/resend/", api.MessageResendView.as_view(), name="message-resend"),
]
