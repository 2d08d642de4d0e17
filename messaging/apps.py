from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Channels, templates, messages, webhooks, campaigns, content, notifications."""

    name = "messaging"
    verbose_name = "Messaging"
