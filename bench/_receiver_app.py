"""A fast event-webhook receiver for bench/event_webhooks.py: plain WSGI (no framework), reads
the body and answers 200, as an integrator's receiver that queues the work would. Run by
gunicorn; not a benchmark itself (run_all skips modules whose name starts with "_")."""


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    body = b'{"ok":true}'
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
