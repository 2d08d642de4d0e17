from messaging.admin import channels, messages, webhooks  # noqa: F401
