"""gunicorn settings: `gunicorn -c python:config.gunicorn config.wsgi:application`.

Server hooks and settings for production web processes. Each part is self-contained; the
worker model and bind address are chosen elsewhere (command line or later sections here).

Prometheus multiprocess mode (README "Metrics and error reports"): with
PROMETHEUS_MULTIPROC_DIR set, every worker writes its counters into files there and `/metrics`
sums them. When a worker exits (restart, `max_requests`, a crash), the master marks it dead,
so its live gauges stop counting while its counters stay in the sums.
"""

import os


def child_exit(server, worker):
    """gunicorn hook, in the master, after a worker exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
