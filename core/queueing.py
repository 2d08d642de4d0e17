"""Enqueue a task by its stable name, so services never import the tasks that wrap them.

A domain's `tasks` module is an adapter over its services (it imports them); a service that
queues follow-up work asks for the task here by its public name (`messaging.send_batch`)
instead of importing the tasks module back, which would make the two import each other.
Task names are already a stable public surface: beat rows and queued messages refer to them.
"""

from __future__ import annotations

from celery import Task, current_app


def task(name: str) -> Task:
    """The registered task called `name` (the same object its module defines, so tests may
    patch its `delay` or `apply_async`). Raises KeyError for a name no app registers."""
    tasks = current_app.tasks
    if name not in tasks:
        # Celery imports the apps' tasks modules lazily (at worker start); a web process or
        # a test may ask first.
        current_app.loader.import_default_modules()
    return tasks[name]
