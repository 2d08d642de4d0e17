"""Celery's autodiscovery imports `analytics.tasks`; the tasks live in `analytics.ops.tasks`."""

from analytics.ops.tasks import *  # noqa: F403
