"""core.queueing.task: services enqueue by a task's stable name, without importing it."""

from unittest import mock

import pytest

from core.queueing import task


def test_a_name_gives_the_very_task_its_module_defines():
    from crm.tasks import import_run
    from messaging.sending.tasks import send_batch

    assert task("crm.import_run") == import_run  # shared_task hands out a proxy of it
    assert task("messaging.send_batch") == send_batch


def test_patching_the_task_is_seen_through_the_lookup():
    from analytics.ops.tasks import job_run

    with mock.patch.object(job_run, "apply_async") as apply_async:
        task("analytics.job_run").apply_async(args=[7])
    apply_async.assert_called_once_with(args=[7])


def test_an_unknown_name_is_an_error_not_a_silent_drop():
    with pytest.raises(KeyError):
        task("messaging.no_such_task")
