"""`core.periodic.periodic_task`: one run at a time, a growing pause after failures, and a
plain Celery task otherwise. The cache is the real one of the unit settings (locmem)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import time_machine
from celery.exceptions import Ignore
from django.core.cache import cache

from config.celery import app as celery_app
from core.periodic import ALREADY_RUNNING, BACKING_OFF, PeriodicTaskBase, periodic_task

NAME = "tests.periodic_probe"
SCOPED = "tests.periodic_scoped"
LOCK = f"task-lock:{NAME}"  # the key scheme of the older per-app locks: a deploy mid-run holds
BACKOFF = f"task-backoff:{NAME}"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Boom(Exception):
    pass


class Body:
    """What the test tasks do when they run; each test sets `action`."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.action: Callable[[str], object] = lambda value: {"ran": value}

    def __call__(self, value: str) -> object:
        self.calls.append(value)
        return self.action(value)


BODY = Body()


@periodic_task(name=NAME, lock_timeout=30, backoff_min=10, expires=20, queue="analytics")
def probe(value: str = "") -> object:
    return BODY(value)


@periodic_task(name=SCOPED, lock_timeout=30, backoff_min=10, scope=lambda job, **_: job)
def scoped(job: str, **arguments) -> object:
    return BODY(job)


def fail(value: str) -> object:
    raise Boom("the database is down")


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.PERIODIC_TASK_BACKOFF_MAX_SECONDS = 600
    BODY.__init__()
    keys = [LOCK, BACKOFF] + [
        f"task-{kind}:{SCOPED}:{job}" for kind in ("lock", "backoff") for job in ("a", "b")
    ]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


# --- A Celery task --------------------------------------------------------------------------------


def test_the_task_is_registered_under_its_name_with_its_options():
    task = celery_app.tasks[NAME]
    assert task is probe._get_current_object()
    assert isinstance(task, PeriodicTaskBase)
    assert task.ignore_result is True
    assert (task.expires, task.queue) == (20, "analytics")
    assert (task.lock_timeout, task.backoff_min) == (30, 10)


def test_run_is_the_plain_function_without_lock():
    cache.add(LOCK, "another run", timeout=60)
    assert probe.run("direct") == {"ran": "direct"}
    assert cache.get(LOCK) == "another run"


def test_the_decorator_refuses_what_would_break_it():
    with pytest.raises(ValueError):
        periodic_task(name="tests.periodic_bad", lock_timeout=0)
    with pytest.raises(TypeError):
        periodic_task(name="tests.periodic_bad", lock_timeout=10, base=PeriodicTaskBase)


# --- Lock ---------------------------------------------------------------------------------------


def test_a_run_returns_the_result_and_releases_its_lock():
    assert probe("x") == {"ran": "x"}
    assert cache.get(LOCK) is None
    assert probe("y") == {"ran": "y"}
    assert BODY.calls == ["x", "y"]


def test_runs_never_overlap():
    inner = []
    BODY.action = lambda value: inner.append(probe("inner")) or {"ran": value}
    assert probe("outer") == {"ran": "outer"}
    assert inner == [{"skipped": ALREADY_RUNNING}]
    assert BODY.calls == ["outer"]


def test_a_run_is_skipped_while_another_holds_the_lock_and_leaves_it_alone():
    cache.add(LOCK, "another run", timeout=60)
    assert probe("x") == {"skipped": ALREADY_RUNNING}
    assert probe.apply(args=["x"]).result == {"skipped": ALREADY_RUNNING}  # the worker's path
    assert BODY.calls == []
    assert cache.get(LOCK) == "another run"
    assert cache.get(BACKOFF) is None  # skipping is not failing


def test_the_lock_is_released_after_an_exception():
    BODY.action = fail
    with pytest.raises(Boom):
        probe("x")
    assert cache.get(LOCK) is None


def test_only_its_own_lock_is_deleted():
    # The run outlived its lock_timeout and a later run took the lock meanwhile.
    def outlive(value):
        cache.set(LOCK, "later run", timeout=60)
        return {"ran": value}

    BODY.action = outlive
    probe("x")
    assert cache.get(LOCK) == "later run"


def test_the_lock_expires_after_lock_timeout(clock):
    cache.add(LOCK, "killed worker", timeout=probe.lock_timeout)
    assert probe("x") == {"skipped": ALREADY_RUNNING}
    clock.shift(probe.lock_timeout + 1)
    assert probe("x") == {"ran": "x"}


# --- Backoff ------------------------------------------------------------------------------------


def test_a_failure_pauses_the_task_and_each_further_failure_doubles_the_pause(clock):
    BODY.action = fail
    for failures, pause in enumerate([10, 20, 40, 80], start=1):
        with pytest.raises(Boom):
            probe("run")
        assert cache.get(BACKOFF)["failures"] == failures
        assert probe("skipped") == {"skipped": BACKING_OFF}
        clock.shift(pause - 1)
        assert probe("skipped") == {"skipped": BACKING_OFF}
        clock.shift(1)
    assert BODY.calls == ["run"] * 4
    assert cache.get(LOCK) is None


def test_the_pause_stops_growing_at_the_setting(clock, settings):
    settings.PERIODIC_TASK_BACKOFF_MAX_SECONDS = 25
    BODY.action = fail
    for pause in [10, 20, 25, 25]:
        with pytest.raises(Boom):
            probe("run")
        clock.shift(pause - 1)
        assert probe("skipped") == {"skipped": BACKING_OFF}
        clock.shift(1)
    assert BODY.calls == ["run"] * 4


def test_a_task_may_cap_its_pause_below_the_setting(clock, settings, monkeypatch):
    settings.PERIODIC_TASK_BACKOFF_MAX_SECONDS = 600
    monkeypatch.setattr(probe, "backoff_max", 15)
    BODY.action = fail
    for pause in [10, 15, 15]:
        with pytest.raises(Boom):
            probe("run")
        clock.shift(pause - 1)
        assert probe("skipped") == {"skipped": BACKING_OFF}
        clock.shift(1)
    assert BODY.calls == ["run"] * 3


def test_the_sweepers_that_redrive_work_never_pause_longer_than_a_minute():
    from messaging.campaigns.tasks import campaigns_tick
    from messaging.sending.tasks import send_sweep_task
    from messaging.webhooks.tasks import webhook_sweep

    assert {t.backoff_max for t in (send_sweep_task, webhook_sweep, campaigns_tick)} == {60}


def test_no_pause_when_the_setting_is_zero(settings):
    settings.PERIODIC_TASK_BACKOFF_MAX_SECONDS = 0
    BODY.action = fail
    for _ in range(2):
        with pytest.raises(Boom):
            probe("run")
    assert BODY.calls == ["run", "run"]


def test_a_success_clears_the_backoff(clock):
    BODY.action = fail
    for pause in [10, 20]:
        with pytest.raises(Boom):
            probe("run")
        clock.shift(pause)
    BODY.action = lambda value: {"ran": value}
    assert probe("ok") == {"ran": "ok"}
    assert cache.get(BACKOFF) is None
    BODY.action = fail
    with pytest.raises(Boom):
        probe("run")
    assert cache.get(BACKOFF)["failures"] == 1
    clock.shift(10)  # the first pause again, not 40 s
    BODY.action = lambda value: {"ran": value}
    assert probe("ok") == {"ran": "ok"}


def test_celery_control_flow_is_not_a_failure():
    def ignore(value):
        raise Ignore()

    BODY.action = ignore
    with pytest.raises(Ignore):
        probe("x")
    assert cache.get(BACKOFF) is None
    assert cache.get(LOCK) is None


def test_a_failure_is_logged_once_with_its_exception_and_a_skip_as_a_warning(caplog, clock):
    caplog.set_level(logging.INFO, logger="core.periodic")
    BODY.action = fail
    with pytest.raises(Boom):
        probe("+919800000001")
    probe("+919800000001")
    records = [r for r in caplog.records if r.name == "core.periodic"]
    assert [r.levelname for r in records] == ["ERROR", "WARNING"]
    assert records[0].exc_info[0] is Boom
    assert NAME in records[0].getMessage() and "1 in a row" in records[0].getMessage()
    assert BACKING_OFF in records[1].getMessage()
    assert "+919800000001" not in caplog.text  # arguments are never logged


# --- Scope --------------------------------------------------------------------------------------


def test_a_scope_gives_each_argument_its_own_lock_and_backoff():
    cache.add(f"task-lock:{SCOPED}:a", "another run", timeout=60)
    assert scoped("a") == {"skipped": ALREADY_RUNNING}
    assert scoped(job="b", arguments={"mode": "nightly"}) == {"ran": "b"}
    BODY.action = fail
    with pytest.raises(Boom):
        scoped("b")
    assert scoped("b") == {"skipped": BACKING_OFF}
    cache.delete(f"task-lock:{SCOPED}:a")
    BODY.action = lambda value: {"ran": value}
    assert scoped("a") == {"ran": "a"}
    assert cache.get(f"task-lock:{NAME}") is None


# --- The tasks beat runs ------------------------------------------------------------------------

# Every task beat runs is a periodic task; none is left to convert.
NOT_YET_PERIODIC: set[str] = set()


@pytest.mark.django_db
def test_every_task_beat_runs_is_a_periodic_task():
    from django_celery_beat.models import PeriodicTask

    celery_app.loader.import_default_modules()  # what a worker imports when it starts
    scheduled = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"crm.import_resume_stale", "analytics.job_scheduled"} <= scheduled
    plain = {name for name in scheduled if not isinstance(celery_app.tasks[name], PeriodicTaskBase)}
    assert plain == NOT_YET_PERIODIC
