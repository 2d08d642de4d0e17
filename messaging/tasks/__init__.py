"""Celery tasks: thin adapters that load by id and call one service.

Split by queue: `sending` (queue `send`), `webhooks` (queue `webhooks`).
"""

from messaging.tasks.sending import *  # noqa: F403
from messaging.tasks.webhooks import *  # noqa: F403
