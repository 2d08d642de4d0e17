"""The Celery application.

Queues: `send` (outbound WhatsApp), `webhooks` (processing stored webhook events), `default`
and `analytics`. Settings favour not losing work over speed: a task is acknowledged only after
it finished, a worker lost mid-task gets its message redelivered, and each worker process holds
one message at a time. The database stays the source of truth; a periodic sweeper re-drives
anything a lost message left behind.
"""

import os

from celery import Celery, bootsteps
from celery.signals import worker_process_shutdown
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("parley")


def _config() -> dict:
    """Celery's configuration from Django settings, read when Celery first needs it (not at
    import, so settings modules may import `config` freely)."""
    from django.conf import settings

    broker_url = settings.CELERY_BROKER_URL
    transport_options: dict = {"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT}
    transport = None
    if broker_url.startswith("filesystem://"):
        transport = "core.broker:Transport"  # kombu's, with atomic writes
        folder = settings.CELERY_BROKER_FOLDER
        for sub in ("out", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(folder / "out"),
            "data_folder_out": str(folder / "out"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.25,
        }
    queues = [
        Queue(name, Exchange(name), routing_key=name)
        for name in ("send", "webhooks", "default", "analytics")
    ]
    return {
        "broker_url": broker_url,
        "broker_transport": transport,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "task_ignore_result": True,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_queues": queues,
        "task_default_queue": "default",
        "task_default_exchange": "default",
        "task_default_routing_key": "default",
        "task_routes": {
            "messaging.send_*": {"queue": "send"},
            "messaging.webhook_*": {"queue": "webhooks"},
            "messaging.hooks_out_*": {"queue": "webhooks"},
            "analytics.*": {"queue": "analytics"},
        },
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
        "task_time_limit": settings.CELERY_TASK_TIME_LIMIT,
        "task_always_eager": settings.CELERY_TASK_ALWAYS_EAGER,
        "task_eager_propagates": True,
        "worker_concurrency": settings.CELERY_WORKER_CONCURRENCY,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "beat_scheduler": "django_celery_beat.schedulers:DatabaseScheduler",
        "timezone": settings.TIME_ZONE,
        "enable_utc": True,
    }


app.add_defaults(_config)
app.autodiscover_tasks()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Record a heartbeat row from each worker so `/healthz` can tell live workers apart.

    A database row works on every broker, including the filesystem transport of the embedded
    mode, which cannot answer remote-control pings.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        self.worker = worker
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        from core.services import (
            worker_heartbeat_record,  # the Celery app loads before Django's apps
        )

        def beat():
            amqp_queues = worker.app.amqp.queues
            queues = sorted((amqp_queues.consume_from or amqp_queues).keys())
            worker_heartbeat_record(hostname=worker.hostname, queues=queues, pid=os.getpid())

        beat()
        self.tref = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_INTERVAL, beat)

    def stop(self, worker):
        from core.services import (
            worker_heartbeat_forget,  # the Celery app loads before Django's apps
        )

        if self.tref is not None:
            self.tref.cancel()
        worker_heartbeat_forget(hostname=worker.hostname)


app.steps["worker"].add(WorkerHeartbeat)


@worker_process_shutdown.connect
def _metrics_process_dead(pid=None, **kwargs) -> None:
    """A prefork child is exiting: multiprocess metrics stop counting its live gauges (its
    counters stay summed; README "Metrics and error reports")."""
    from core.metrics import metrics_process_dead

    metrics_process_dead(pid or os.getpid())
