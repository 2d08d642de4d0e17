"""The production entry point: one ASGI application for the whole site.

POSTs to the webhook paths go to the lean intake (`messaging.webhooks.asgi`): verified and
group-committed without entering Django's request cycle. Everything else is Django, its
synchronous views in a thread pool behind a body buffer (`core.asgi.BufferedWSGI`), so a slow
client costs a connection on the event loop, never a thread or a worker. Served by gunicorn
with uvicorn workers (`config/gunicorn.py`); `manage.py runserver` still serves `config.wsgi`.
"""

import asyncio
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

django_wsgi = get_wsgi_application()  # sets Django up before the imports below

from core.asgi import BufferedWSGI  # noqa: E402
from messaging.webhooks.asgi import (  # noqa: E402
    webhook_intake,
    webhook_intake_path,
    webhook_intake_warm,
)
from messaging.webhooks.group_commit import webhook_writer  # noqa: E402

django_app = BufferedWSGI(django_wsgi, threads=settings.WEB_THREADS)


async def application(scope, receive, send):
    if scope["type"] == "http":
        code = webhook_intake_path(scope)
        if code is not None:
            await webhook_intake(scope, receive, send, code)
            return
        await django_app(scope, receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await asyncio.get_running_loop().run_in_executor(None, webhook_intake_warm)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # Commit what the writer holds: those requests are still waiting for their answer.
            webhook_writer().stop()
            await send({"type": "lifespan.shutdown.complete"})
            return
