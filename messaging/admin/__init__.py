from messaging.admin import automation, content, messages, webhooks  # noqa: F401
from messaging.channels import admin as channels  # noqa: F401
