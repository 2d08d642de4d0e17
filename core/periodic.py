"""One decorator for the tasks beat runs on a schedule: `periodic_task` (RapidPro's `cron_task`).

    from core.periodic import periodic_task

    @periodic_task(name="crm.import_resume_stale", lock_timeout=120, expires=50)
    def import_resume_stale() -> list[int]:
        ...

It registers a Celery task under `name` with `ignore_result=True` and the other Celery options
given (queue, expires, time limits, ...). Every run of it, from beat, `.delay()`, `.apply()` or
a direct call, then:

- **Runs alone.** Beat fires on time whether or not the last run finished, so a slow run (a
  long sweep, a stuck provider) would soon run several times at once. A run first adds
  `task-lock:<name>` to the shared cache with a token of its own (`cache.add`: one run wins)
  and at the end deletes it only if it still holds its token (a lock that expired and was
  taken by a later run stays with that run). A run that finds the lock taken returns
  `{"skipped": "already running"}` without calling the function. `lock_timeout` (s) frees the
  lock of a worker killed mid-run; set it above the longest normal run.
- **Backs off after a failure.** A task failing on every run (a database down, a bad setting)
  would otherwise log an error every few seconds and keep hitting what is already failing. A
  run that raises logs the exception once, records `task-backoff:<name>` (failures in a row,
  and until when to pause) and re-raises, so Celery still records the failure. Runs during the
  pause return `{"skipped": "backing off"}` (logged as a warning). The pause is `backoff_min`
  seconds after the first failure (set it to the beat interval: the next run is skipped) and
  doubles with each failure in a row, up to PERIODIC_TASK_BACKOFF_MAX_SECONDS (default 600; 0
  turns backoff off). The first success clears it. Celery's own control flow (`self.retry()`,
  `Ignore`, `Reject`) is not a failure.

This module never logs a task's arguments (they may carry personal data).

A task that beat runs with different arguments (`analytics.job_scheduled` starts one job or
another) passes `scope`, called with the task's arguments, whose result extends both keys
(`task-lock:<name>:<scope>`): each job has its own lock and backoff, so two jobs due in the same
minute never skip each other and one failing job never holds back another. The scope shows in
keys and log lines, so it is an identifier (a job name), never personal data.

`.run` is the plain function, as for any Celery task: no lock, no backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from celery.exceptions import Ignore, Reject, Retry
from django.conf import settings
from django.core.cache import cache

from core.locks import cache_lock

__all__ = ["ALREADY_RUNNING", "BACKING_OFF", "PeriodicTaskBase", "periodic_task"]

logger = logging.getLogger(__name__)

ALREADY_RUNNING = "already running"
BACKING_OFF = "backing off"
_CONTROL_FLOW = (Retry, Ignore, Reject)
_MAX_DOUBLINGS = 30  # keeps 2**n small; any cap in seconds is reached long before


class PeriodicTaskBase(Task):
    """The base class of the tasks `periodic_task` makes: the lock and the backoff of a run.

    They live in `__call__` (which Celery's worker calls when a task class overrides it) so
    that `.run` stays the plain function.
    """

    lock_timeout: int = 60
    backoff_min: int = 60
    backoff_max: int | None = None  # None: PERIODIC_TASK_BACKOFF_MAX_SECONDS
    lock_scope: Callable[..., str] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = self.name
        if self.lock_scope is not None:
            key = f"{key}:{self.lock_scope(*args, **kwargs)}"
        with cache_lock(f"task-lock:{key}", timeout=self.lock_timeout) as acquired:
            if not acquired:
                logger.info("periodic task %s skipped: another run holds its lock", key)
                return {"skipped": ALREADY_RUNNING}
            # Read under the lock, so that no other run changes it until this one ends.
            backoff_key = f"task-backoff:{key}"
            backoff = cache.get(backoff_key)
            if backoff and time.time() < backoff["until"]:
                logger.warning(
                    "periodic task %s skipped: backing off for %d s after %d failure(s) in a row",
                    key, backoff["until"] - time.time(), backoff["failures"],
                )  # fmt: skip
                return {"skipped": BACKING_OFF}
            try:
                result = super().__call__(*args, **kwargs)
            except _CONTROL_FLOW:
                raise
            except Exception:
                self._failure_record(key=key, backoff_key=backoff_key, backoff=backoff)
                raise
            if backoff:
                cache.delete(backoff_key)
            return result

    def _failure_record(self, *, key: str, backoff_key: str, backoff: dict | None) -> None:
        """Pause the task for `backoff_min` doubled per failure in a row, up to the cap.

        The record outlives the pause by the cap, so that the run after the pause still
        finds the count and a further failure doubles the pause instead of starting over.
        """
        cap = settings.PERIODIC_TASK_BACKOFF_MAX_SECONDS
        if self.backoff_max is not None and cap:
            cap = min(cap, self.backoff_max)
        failures = (backoff["failures"] if backoff else 0) + 1
        pause = min(self.backoff_min * 2 ** min(failures - 1, _MAX_DOUBLINGS), cap)
        cache.set(
            backoff_key, {"failures": failures, "until": time.time() + pause}, timeout=pause + cap
        )
        logger.exception(
            "periodic task %s failed (%d in a row); its runs are skipped for %d s",
            key, failures, pause,
        )  # fmt: skip


def periodic_task(
    *,
    name: str,
    lock_timeout: int,
    backoff_min: int = 60,
    backoff_max: int | None = None,
    scope: Callable[..., str] | None = None,
    **celery_options: Any,
) -> Callable[[Callable[..., Any]], PeriodicTaskBase]:
    """Make `fn` the Celery task `name` whose runs never overlap and back off after failures.

    `lock_timeout`: seconds after which a run's lock expires (a killed worker's lock frees
    itself then). `backoff_min`: the first pause after a failure, usually the beat interval;
    `backoff_max`: a lower cap than the setting's for a task whose silence costs more (the
    sweepers that re-drive sends and webhooks).
    `scope`: for a task beat runs with different arguments, maps them to a part of the lock
    and backoff keys. Everything else goes to `shared_task` unchanged.
    """
    if lock_timeout <= 0 or backoff_min <= 0:
        raise ValueError("lock_timeout and backoff_min must be positive")
    if "base" in celery_options:
        raise TypeError("periodic_task chooses the task base class itself")
    options = {"ignore_result": True, **celery_options}

    def decorate(fn: Callable[..., Any]) -> PeriodicTaskBase:
        return shared_task(
            name=name,
            base=PeriodicTaskBase,
            lock_timeout=lock_timeout,
            backoff_min=backoff_min,
            backoff_max=backoff_max,
            # A plain function as a class attribute would become a method of the task.
            lock_scope=staticmethod(scope) if scope else None,
            **options,
        )(fn)

    return decorate
