"""Channel tasks (queue `default`): keep templates in line with the provider."""

from celery import shared_task

__all__ = ["sync_templates"]


@shared_task(name="messaging.sync_templates", ignore_result=True)
def sync_templates() -> dict:
    from messaging.channels.templates import templates_sync_all

    return templates_sync_all()
