from messaging.admin import automation, channels, content, messages, webhooks  # noqa: F401
