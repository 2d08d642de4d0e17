"""Helpers shared by the unit and integration backup tests: a populated database and a
table-by-table comparison."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission
from django.core import serializers
from django.utils import timezone

from analytics.ops.backup import backup_models


def populate() -> None:
    """A little of everything: users with roles and permissions, contacts with tags, a
    channel, templates (auto_now), messages (JSON, UUID), statuses, webhooks, jobs, errors."""
    from analytics.models import JobState
    from core.services import api_token_create
    from messaging.models import MessageStatusEvent, Status
    from tests.factories import (
        AppErrorFactory,
        ChannelFactory,
        ContactFactory,
        HealthSampleFactory,
        JobRunFactory,
        MessageFactory,
        OpsWebhookEventFactory,
        TemplateFactory,
        UserFactory,
    )

    admin = UserFactory(username="boss", roles=["Admin"], first_name="Zoë")
    agent = UserFactory(username="agent", roles=["Agent"])
    agent.user_permissions.add(Permission.objects.get(codename="view_operations"))
    api_token_create(user=admin, name="shop")
    channel = ChannelFactory(throughput_mps=250)
    TemplateFactory(channel=channel, components=[{"type": "BODY", "text": "Hi {{1}} ✓"}])
    from crm.models import Tag

    vip, _ = Tag.objects.get_or_create(name="vip")
    for i in range(25):
        contact = ContactFactory(attributes={"city": "Pune", "n": i})
        contact.tags.add(vip)
        message = MessageFactory(
            channel=channel,
            contact=contact,
            status=Status.DELIVERED,
            wamid=f"wamid.{i}",
            content={"body": f"Hello {i} — ünïcode"},
            accepted_at=timezone.now(),
            sent_by=admin,
        )
        MessageStatusEvent.objects.create(
            message=message,
            wamid=message.wamid,
            status="delivered",
            timestamp=timezone.now() - timedelta(minutes=i),
            raw={"id": message.wamid},
            applied=True,
        )
    MessageFactory(channel=channel, status=Status.FAILED, error_code=131026, error_title="x")
    OpsWebhookEventFactory(state="failed", error="boom")
    JobRunFactory(name="purge_data", state=JobState.SUCCEEDED, counts={"rows": 3}, started_by=admin)
    AppErrorFactory(traceback="Traceback ...")
    HealthSampleFactory()


def snapshot(using: str = "default") -> dict[str, list]:
    """Every backed-up table serialized (relations to users, permissions and content types by
    natural key, so that databases with different permission ids compare equal)."""
    result = {}
    for model in backup_models():
        rows = model._base_manager.using(using).order_by("pk")
        result[model._meta.label_lower] = serializers.serialize(
            "python", rows, use_natural_foreign_keys=True
        )
    return result


def without_restore_events(after: dict[str, list]) -> dict[str, list]:
    """`after` less the audit events the `restore` command writes once it has restored."""
    events = after.get("core.auditevent", [])
    kept = [e for e in events if e["fields"]["action_name"] != "restore"]
    assert len(events) - len(kept) <= 1
    return {**after, "core.auditevent": kept}


def assert_same(before: dict[str, list], after: dict[str, list]) -> None:
    assert set(before) == set(after)
    for label in before:
        assert len(after[label]) == len(before[label]), label
        for old, new in zip(before[label], after[label], strict=True):
            assert new == old, (label, old, new)
