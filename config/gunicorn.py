"""gunicorn settings for production: `gunicorn -c config/gunicorn.py`.

Workers are uvicorn's (an asyncio loop each, with httptools and uvloop) serving the ASGI
application `config.asgi:application`. The model was chosen by measurement (bench/README.md,
"Full cycle"): on two cores it answers signed webhooks faster than an empty Django view does
on sync or threaded workers, and a slow client costs a connection instead of a worker.
Environment: PORT (8000) or BIND, WEB_CONCURRENCY (worker processes; 2 per core),
WEB_THREADS (Django's threads per worker, a setting), WEB_KEEPALIVE_SECONDS (75, longer than
a load balancer's idle timeout).

Prometheus multiprocess mode (README "Metrics and error reports"): with
PROMETHEUS_MULTIPROC_DIR set, every worker writes its counters into files there and `/metrics`
sums them. When a worker exits (restart, `max_requests`, a crash), the master marks it dead,
so its live gauges stop counting while its counters stay in the sums.
"""

import multiprocessing
import os

wsgi_app = "config.asgi:application"
worker_class = "uvicorn_worker.UvicornWorker"
bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count())
keepalive = int(os.environ.get("WEB_KEEPALIVE_SECONDS", "75"))
graceful_timeout = 30
# Requests are answered by the loop; the worker heartbeat only has to beat slow startup.
timeout = 60
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("WEB_ACCESS_LOG") or None


def child_exit(server, worker):
    """gunicorn hook, in the master, after a worker exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
