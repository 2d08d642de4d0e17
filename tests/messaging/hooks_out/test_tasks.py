"""The event webhook tasks: beat runs the sweep every few seconds and the purge daily; the
sweep frees stale claims and delivers what is due; the drain task delivers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from messaging.hooks_out.models import DeliveryState, HookEvent, WebhookDelivery
from messaging.hooks_out.services import deliveries_claim, event_emit
from messaging.hooks_out.tasks import hooks_out_drain, hooks_out_purge, hooks_out_sweep
from tests.factories import WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db


def test_beat_runs_the_sweep_every_five_seconds_and_the_purge_daily():
    sweep = PeriodicTask.objects.get(task="messaging.hooks_out_sweep")
    assert sweep.enabled and sweep.interval.every == 5 and sweep.queue == "webhooks"
    purge = PeriodicTask.objects.get(task="messaging.hooks_out_purge")
    assert purge.enabled and purge.crontab.hour == "3"


def test_the_sweep_frees_a_dead_workers_claim_and_delivers_it(settings, receiver):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = True
    WebhookSubscriptionFactory(url=receiver.url, events=[HookEvent.MESSAGE_STATUS])
    event_emit(event_type=HookEvent.MESSAGE_STATUS, data={"n": 1})
    deliveries_claim(limit=5)  # a worker claims it, then dies
    WebhookDelivery.objects.update(claimed_at=timezone.now() - timedelta(minutes=5))
    result = hooks_out_sweep.apply().get()
    assert result["released"] == 1 and result["delivered"] == 1
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED
    assert len(receiver.received) == 1


def test_the_drain_task_delivers_and_the_purge_task_runs(settings, receiver):
    settings.WEBHOOK_OUT_ALLOW_PRIVATE = True
    WebhookSubscriptionFactory(url=receiver.url, events=[HookEvent.MESSAGE_STATUS])
    event_emit(event_type=HookEvent.MESSAGE_STATUS, data={"n": 1})
    assert hooks_out_drain.apply().get()["delivered"] == 1
    assert hooks_out_purge.apply().get() == {"purged": 0}
