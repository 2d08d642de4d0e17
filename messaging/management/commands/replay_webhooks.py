"""Replay stored webhook events: put them back to pending and process them again.

    manage.py replay_webhooks --id 42 --id 43        these events, whatever their state
    manage.py replay_webhooks --all-failed           every failed event
    manage.py replay_webhooks --since 2h             every event received in the last 2 hours
    manage.py replay_webhooks --since 2025-07-01 --all-failed

Processing is idempotent: replaying an event that was processed changes nothing already
applied. Events are enqueued for the workers, or processed here with --sync.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from messaging.webhooks.services import (
    webhook_event_process,
    webhook_events_replay,
    webhook_events_select,
)

BATCH = 1000
_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> datetime:
    """`30m`, `2h`, `7d`, an ISO date or an ISO date-time (UTC when no offset is given)."""
    text = value.strip()
    match = _RELATIVE.match(text.lower())
    if match:
        return timezone.now() - timedelta(**{_UNITS[match[2]]: int(match[1])})
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(f"--since: not a date, date-time or duration like 2h: {value!r}")
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


class Command(BaseCommand):
    help = "Replay stored webhook events (by id, since a time, or all failed)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--id", type=int, action="append", default=[], dest="ids")
        parser.add_argument("--since", help="30m, 2h, 7d, 2025-07-01 or an ISO date-time")
        parser.add_argument("--all-failed", action="store_true", help="only failed events")
        parser.add_argument(
            "--sync", action="store_true", help="process here instead of enqueueing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[int] = options["ids"]
        since = parse_since(options["since"]) if options["since"] else None
        failed_only: bool = options["all_failed"]
        if not ids and since is None and not failed_only:
            raise CommandError("give --id, --since or --all-failed")
        events = webhook_events_select(since=since, failed_only=failed_only)
        if ids:
            events = events.filter(pk__in=ids)
        selected = list(events.order_by("received_at", "pk").values_list("pk", flat=True))
        if ids and len(selected) < len(set(ids)):
            missing = sorted(set(ids) - set(selected))
            self.stderr.write(f"not found (or filtered out): {missing}")
        replayed = processed = failed = 0
        for start in range(0, len(selected), BATCH):
            batch = selected[start : start + BATCH]
            replayed += webhook_events_replay(event_ids=batch, enqueue=not options["sync"])
            if options["sync"]:
                for event_id in batch:
                    event = webhook_event_process(event_id=event_id)
                    if event is not None:
                        processed += 1
                        failed += event.state == "failed"
        if options["sync"]:
            self.stdout.write(f"processed {processed} event(s), {failed} failed")
        else:
            self.stdout.write(f"queued {replayed} event(s) for processing")
