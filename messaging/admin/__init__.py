from messaging.automation import admin as automation  # noqa: F401
from messaging.channels import admin as channels  # noqa: F401
from messaging.content import admin as content  # noqa: F401
from messaging.sending import admin as messages  # noqa: F401
from messaging.webhooks import admin as webhooks  # noqa: F401
