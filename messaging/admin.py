"""Django's admin autodiscovery imports `messaging.admin`; each domain registers its own."""

from messaging.automation import admin as automation_admin  # noqa: F401
from messaging.campaigns import admin as campaigns_admin  # noqa: F401
from messaging.channels import admin as channels_admin  # noqa: F401
from messaging.content import admin as content_admin  # noqa: F401
from messaging.hooks_out import admin as hooks_out_admin  # noqa: F401
from messaging.inbox import admin as inbox_admin  # noqa: F401
from messaging.links import admin as links_admin  # noqa: F401
from messaging.media import admin as media_admin  # noqa: F401
from messaging.notifications import admin as notifications_admin  # noqa: F401
from messaging.sending import admin as sending_admin  # noqa: F401
from messaging.webhooks import admin as webhooks_admin  # noqa: F401
