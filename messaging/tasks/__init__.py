"""Celery tasks: thin adapters that load by id and call one service.

By area: `sending` (queue `send`), `webhooks` (queue `webhooks`), `content` and `inbox`
(queue `default`).
"""

from messaging.content.tasks import *  # noqa: F403
from messaging.inbox.tasks import *  # noqa: F403
from messaging.sending.tasks import *  # noqa: F403
from messaging.webhooks.tasks import *  # noqa: F403
