"""Celery tasks of messaging, registered from each domain's `tasks` module.

Celery's autodiscovery imports `messaging.tasks`; the tasks themselves live with their
domain (`sending` on queue `send`, `webhooks` on `webhooks`, the rest on `default`).
"""

from messaging.automation.tasks import *  # noqa: F403
from messaging.campaigns.tasks import *  # noqa: F403
from messaging.channels.tasks import *  # noqa: F403
from messaging.content.tasks import *  # noqa: F403
from messaging.hooks_out.tasks import *  # noqa: F403
from messaging.inbox.tasks import *  # noqa: F403
from messaging.media.tasks import *  # noqa: F403
from messaging.sending.tasks import *  # noqa: F403
from messaging.webhooks.tasks import *  # noqa: F403
