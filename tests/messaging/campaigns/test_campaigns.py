"""Campaigns: pre-flight, state machine, launch idempotency, pause/resume/cancel, auto-pause."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidTransition
from crm.models import Contact, Segment, Tag
from messaging.campaigns.selectors import campaign_preflight, campaign_progress
from messaging.campaigns.services import (
    CampaignNotReady,
    campaign_cancel,
    campaign_content,
    campaign_failures_check,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaigns_complete_finished,
    campaigns_launch_due,
)
from messaging.models import (
    Campaign,
    CampaignState,
    Message,
    MessageTemplate,
    Status,
    WebhookState,
)
from messaging.providers import UserPreference
from messaging.sending.dispatch import send_batch_run
from messaging.webhooks.inbound import user_preference_apply
from tests.factories import ContactFactory
from tests.messaging.webhooks.support import failed, process, statuses_payload

pytestmark = pytest.mark.django_db

MAPPING = {
    "header": [{"source": "constant", "value": "#40321"}],
    "body": [
        {"source": "field", "value": "name"},
        {"source": "attribute", "value": "order", "fallback": "your order"},
        {"source": "constant", "value": "₹999"},
        {"source": "constant", "value": "Friday"},
    ],
    "buttons": {"0": {"source": "field", "value": "phone"}},
}


@pytest.fixture
def tag(db):
    return Tag.objects.create(name="diwali")


def make_campaign(channel, tag, *, template="order_confirmation", mapping=MAPPING, **kwargs):
    campaign = Campaign.objects.create(
        name="Diwali",
        channel=channel,
        template=MessageTemplate.objects.get(channel=channel, name=template, language="en"),
        parameter_mapping=mapping,
        **kwargs,
    )
    campaign.tags.add(tag)
    return campaign


def audience(tag, n, **kwargs):
    contacts = ContactFactory.create_batch(n, **kwargs)
    for c in contacts:
        c.tags.add(tag)
    return contacts


def test_preflight_counts_the_audience_and_exclusions(channel, tag):
    audience(tag, 5)
    audience(tag, 2, blocked=True)
    audience(tag, 1, undeliverable=True)
    audience(tag, 1, phone=None, wa_id=None)
    report = campaign_preflight(make_campaign(channel, tag))
    assert report.ok, report.problems
    assert report.audience == 9
    assert report.sendable == 5
    assert report.excluded == {"blocked": 2, "undeliverable": 1, "no_phone": 1}


def test_marketing_excludes_contacts_without_consent(channel, tag):
    audience(tag, 3, consent="opted_in")
    audience(tag, 2, consent="unknown")
    audience(tag, 1, consent="opted_out")
    template = MessageTemplate.objects.filter(
        channel=channel, category="MARKETING", status="APPROVED"
    ).first()
    declared = template.parameters
    mapping = {
        "body": [{"source": "constant", "value": "x"}] * len(declared.get("body", [])),
        "header": [{"source": "constant", "value": "x"}] * len(declared.get("header", [])),
        "header_media_link": "https://93.184.215.14/banner.png",
        "buttons": {i: {"source": "constant", "value": "x"} for i in declared.get("buttons", {})},
    }
    campaign = make_campaign(channel, tag, mapping=mapping)
    campaign.template = template
    campaign.save()
    report = campaign_preflight(campaign)
    assert report.ok, report.problems
    assert report.sendable == 3
    assert report.excluded == {"no_consent": 2, "opted_out": 1}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda c: setattr(c, "parameter_mapping", {}), "Map every body parameter"),
        (lambda c: c.parameter_mapping.pop("buttons"), "button 0"),
        (lambda c: setattr(c, "throttle_mps", 5000), "above the channel"),
    ],
)
def test_preflight_problems(channel, tag, change, problem):
    audience(tag, 1)
    campaign = make_campaign(channel, tag, mapping={**MAPPING})
    change(campaign)
    report = campaign_preflight(campaign)
    assert not report.ok
    assert any(problem in p for p in report.problems), report.problems


def test_preflight_checks_the_unique_recipient_limit(channel, tag, settings):
    settings.MESSAGING_UNIQUE_RECIPIENT_LIMIT = 3
    audience(tag, 5)
    report = campaign_preflight(make_campaign(channel, tag))
    assert not report.ok
    assert "unique recipients" in report.problems[0]


def test_launch_materialises_one_message_per_contact(
    channel, tag, django_capture_on_commit_callbacks
):
    contacts = audience(tag, 6)
    campaign = make_campaign(channel, tag)
    with django_capture_on_commit_callbacks() as callbacks:
        campaign = campaign_launch(campaign=campaign)
    assert campaign.state == CampaignState.RUNNING
    assert campaign.audience_size == 6
    assert len(callbacks) == 1  # one nudge for the dispatcher, not one per message
    messages = Message.objects.filter(campaign=campaign)
    assert messages.count() == 6
    assert {m.contact_id for m in messages} == {c.pk for c in contacts}
    first = messages.get(contact=contacts[0])
    assert first.lane == 1 and first.status == Status.QUEUED
    body = first.content["components"][1]["parameters"]
    assert [p["text"] for p in body] == [contacts[0].name, "your order", "₹999", "Friday"]


def test_launch_is_not_repeated_and_materialising_again_adds_nothing(channel, tag):
    from messaging.campaigns.services import campaign_materialise

    audience(tag, 4)
    campaign = campaign_launch(campaign=make_campaign(channel, tag))
    with pytest.raises(CampaignNotReady):
        campaign_launch(campaign=campaign)
    assert campaign_materialise(campaign=campaign) == 0
    assert Message.objects.filter(campaign=campaign).count() == 4


def test_named_parameters_are_rendered_by_name(channel, tag):
    audience(tag, 1, name="Asha")
    campaign = make_campaign(
        channel,
        tag,
        template="payment_received",
        mapping={
            "body": [
                {"source": "field", "value": "name", "name": "customer_name"},
                {"source": "constant", "value": "₹10", "name": "amount"},
                {"source": "constant", "value": "today", "name": "paid_on"},
                {"source": "constant", "value": "R1", "name": "reference"},
            ]
        },
    )
    content = campaign_content(campaign, {"name": "Asha", "attributes": {}})
    params = content["components"][0]["parameters"]
    assert {p["parameter_name"]: p["text"] for p in params}["customer_name"] == "Asha"
    assert campaign_preflight(campaign).ok


def test_invalid_transitions_are_clear_errors(channel, tag):
    audience(tag, 1)
    campaign = make_campaign(channel, tag)
    with pytest.raises(InvalidTransition) as exc:
        campaign_pause(campaign=campaign)
    assert "draft campaign cannot become paused" in exc.value.message
    campaign_cancel(campaign=campaign)
    with pytest.raises(InvalidTransition):
        campaign_resume(campaign=campaign)
    assert [t.to_state for t in campaign.transitions.all()] == ["cancelled"]


def test_pause_resume_and_cancel_are_exact(channel, tag, simulator):
    channel.throughput_mps = 1000
    channel.save()
    audience(tag, 10)
    campaign = campaign_launch(campaign=make_campaign(channel, tag))
    campaign = campaign_pause(campaign=campaign, reason="checking copy")
    assert Message.objects.filter(campaign=campaign, status=Status.PAUSED).count() == 10
    assert send_batch_run(channel_id=channel.pk, max_seconds=2)["accepted"] == 0
    assert simulator.counts() == {}

    campaign = campaign_resume(campaign=campaign)
    assert send_batch_run(channel_id=channel.pk, max_seconds=5)["accepted"] == 10
    assert sorted(simulator.counts().values()) == [1] * 10
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.COMPLETED


def test_cancel_marks_the_unsent(channel, tag):
    audience(tag, 3)
    campaign = campaign_launch(campaign=make_campaign(channel, tag))
    campaign_cancel(campaign=campaign, reason="wrong audience")
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        Status.CANCELLED
    }


def test_scheduled_campaigns_launch_when_due(channel, tag):
    audience(tag, 2)
    campaign = make_campaign(channel, tag)
    with pytest.raises(CampaignNotReady):
        campaign_schedule(campaign=campaign, scheduled_at=timezone.now(), scheduled_by=None)
    campaign = campaign_schedule(
        campaign=campaign, scheduled_at=timezone.now() + timedelta(hours=1), scheduled_by=None
    )
    assert campaigns_launch_due() == 0
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    assert campaigns_launch_due() == 1
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING


def test_quality_codes_pause_the_campaign(channel, tag, simulator):
    contacts = audience(tag, 3)
    simulator.configure(fail_numbers={contacts[0].wa_id: 131048})
    campaign = campaign_launch(campaign=make_campaign(channel, tag))
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PAUSED
    assert campaign.auto_paused
    assert "131048" in campaign.pause_reason


def test_a_failure_spike_pauses_the_campaign(channel, tag, settings):
    settings.CAMPAIGN_AUTOPAUSE_WINDOW = 4
    settings.CAMPAIGN_AUTOPAUSE_FAILURE_SHARE = 0.5
    audience(tag, 6)
    campaign = campaign_launch(campaign=make_campaign(channel, tag))
    ids = list(Message.objects.filter(campaign=campaign).values_list("pk", flat=True))
    Message.objects.filter(pk__in=ids[:3]).update(
        status=Status.FAILED, error_code=131026, failed_at=timezone.now()
    )
    Message.objects.filter(pk__in=ids[3:4]).update(
        status=Status.ACCEPTED, accepted_at=timezone.now()
    )
    assert campaign_failures_check(campaign_ids=[campaign.pk]) == [campaign.pk]
    campaign.refresh_from_db()
    assert "3 of the last 4" in campaign.pause_reason
    assert Message.objects.filter(campaign=campaign, status=Status.PAUSED).count() == 2


# --- Failures WhatsApp reports later, by status webhook -----------------------------------------


def _sent(channel, tag, n):
    """A running campaign whose first n messages WhatsApp accepted; two more wait their turn
    (a campaign still sending when the first statuses come back)."""
    audience(tag, n + 2)
    campaign = campaign_launch(campaign=make_campaign(channel, tag))
    later = Message.objects.filter(campaign=campaign).order_by("-pk")[:2]
    Message.objects.filter(pk__in=[m.pk for m in later]).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    messages = list(Message.objects.filter(campaign=campaign, status=Status.ACCEPTED))
    assert len(messages) == n
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING
    return campaign, messages


def _failed_by_webhook(channel, messages, code, capture):
    """Meta's failed statuses for `messages`, processed as the webhook worker would; the
    callbacks queued for after the commit run at the end, as they would."""
    now = int(time.time())
    payload = statuses_payload(
        *[failed(m.wamid, code, now) for m in messages], phone_number_id=channel.phone_number_id
    )
    with capture(execute=True):
        event = process(payload)
    assert event.state == WebhookState.PROCESSED, event.error


def test_a_quality_code_reported_by_status_webhook_pauses_the_campaign_after_commit(
    channel, tag, simulator, django_capture_on_commit_callbacks
):
    campaign, messages = _sent(channel, tag, 3)
    payload = statuses_payload(
        failed(messages[0].wamid, 131048, int(time.time()), title="Spam rate limit hit"),
        phone_number_id=channel.phone_number_id,
    )
    with django_capture_on_commit_callbacks() as callbacks:
        process(payload)
        campaign.refresh_from_db()
        assert campaign.state == CampaignState.RUNNING  # not before the failure is committed
    for callback in callbacks:
        callback()
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PAUSED
    assert campaign.auto_paused
    assert "131048" in campaign.pause_reason


def test_late_failures_pause_at_the_same_share_as_refused_sends(
    channel, tag, simulator, settings, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_AUTOPAUSE_WINDOW = 4
    settings.CAMPAIGN_AUTOPAUSE_FAILURE_SHARE = 0.5
    campaign, messages = _sent(channel, tag, 4)
    # One of four (131049, Meta's per-user marketing limit): below the threshold.
    _failed_by_webhook(channel, messages[:1], 131049, django_capture_on_commit_callbacks)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING
    # Three of four: at the threshold.
    _failed_by_webhook(channel, messages[1:3], 131026, django_capture_on_commit_callbacks)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PAUSED
    assert "3 of the last 4" in campaign.pause_reason


def test_late_failures_queued_again_are_not_counted(
    channel, tag, simulator, settings, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_AUTOPAUSE_WINDOW = 2
    settings.CAMPAIGN_AUTOPAUSE_FAILURE_SHARE = 0.5
    campaign, messages = _sent(channel, tag, 2)
    _failed_by_webhook(channel, messages, 131000, django_capture_on_commit_callbacks)
    for message in messages:
        message.refresh_from_db()
        assert message.status == Status.QUEUED
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING


def test_progress_reports_counts_and_errors(channel, tag):
    audience(tag, 4)
    campaign = campaign_launch(campaign=make_campaign(channel, tag))
    first = Message.objects.filter(campaign=campaign).first()
    Message.objects.filter(pk=first.pk).update(status=Status.FAILED, error_code=131026)
    progress = campaign_progress(campaign)
    assert progress["total"] == 4
    assert progress["counts"] == {"queued": 3, "failed": 1}
    assert progress["errors"][0]["code"] == 131026
    assert "Undeliverable" in progress["errors"][0]["meaning"]


def test_throttle_paces_a_campaign_below_the_channel(channel, tag, simulator):
    audience(tag, 6)
    campaign_launch(campaign=make_campaign(channel, tag, throttle_mps=10))
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    times = sorted(m["time"] for m in simulator.messages())
    assert len(times) == 6
    # 6 messages at 10/s are spread over about half a second (a burst would take ~10 ms).
    assert times[-1] - times[0] >= 0.3


def test_completion_waits_for_every_message(channel, tag):
    audience(tag, 2)
    campaign = campaign_launch(campaign=make_campaign(channel, tag))
    assert campaigns_complete_finished() == 0
    Message.objects.filter(campaign=campaign).update(status=Status.DELIVERED)
    assert campaigns_complete_finished() == 1


def test_segment_audiences(channel):
    ContactFactory.create_batch(3, attributes={"city": "Pune"})
    ContactFactory.create_batch(2)
    from crm.models import AttributeDefinition

    AttributeDefinition.objects.get_or_create(
        key="city", defaults={"label": "City", "type": "text"}
    )
    segment = Segment.objects.create(
        name="Pune", filter={"attributes": [{"key": "city", "op": "eq", "value": "Pune"}]}
    )
    campaign = Campaign.objects.create(
        name="Pune launch",
        channel=channel,
        segment=segment,
        template=MessageTemplate.objects.get(
            channel=channel, name="order_confirmation", language="en"
        ),
        parameter_mapping=MAPPING,
    )
    assert campaign_preflight(campaign).sendable == 3


def test_tracked_links_in_parameters(channel, tag):
    from messaging.models import TrackedLink

    contacts = audience(tag, 2)
    mapping = {
        **MAPPING,
        "body": [
            {"source": "constant", "value": "See https://shop.example.com/sale", "track": True},
            *MAPPING["body"][1:],
        ],
    }
    campaign = campaign_launch(campaign=make_campaign(channel, tag, mapping=mapping))
    links = TrackedLink.objects.filter(campaign=campaign)
    assert links.count() == 2
    assert {link.contact_id for link in links} == {c.pk for c in contacts}
    first = Message.objects.filter(campaign=campaign).first()
    text = first.content["components"][1]["parameters"][0]["text"]
    assert "/l/" in text and "shop.example.com" not in text


# --- The send policy ---------------------------------------------------------------------------


def marketing_campaign(channel, tag):
    template = MessageTemplate.objects.filter(
        channel=channel, category="MARKETING", status="APPROVED"
    ).first()
    declared = template.parameters
    mapping = {
        "body": [{"source": "constant", "value": "x"}] * len(declared.get("body", [])),
        "header": [{"source": "constant", "value": "x"}] * len(declared.get("header", [])),
        "header_media_link": "https://93.184.215.14/banner.png",
        "buttons": {i: {"source": "constant", "value": "x"} for i in declared.get("buttons", {})},
    }
    campaign = make_campaign(channel, tag, mapping=mapping)
    campaign.template = template
    campaign.save()
    return campaign


def test_send_time_refusals_are_excluded_not_failures_and_do_not_pause(
    channel, tag, simulator, settings
):
    # Counted as failures, the two refusals would make 3 of the last 4 results and pause it.
    settings.CAMPAIGN_AUTOPAUSE_WINDOW = 4
    settings.CAMPAIGN_AUTOPAUSE_FAILURE_SHARE = 0.5
    ok, failing, opting_out, blocked = audience(tag, 4, consent="opted_in")
    simulator.configure(fail_numbers={failing.wa_id: 131026})
    campaign = campaign_launch(campaign=marketing_campaign(channel, tag))
    assert campaign.excluded == {}
    # Between launch and send: one taps "stop" in WhatsApp, staff block another.
    user_preference_apply(
        preference=UserPreference(
            channel_key=channel.phone_number_id, wa_id=opting_out.wa_id, bsuid=None,
            category="marketing_messages", value="stop", timestamp=timezone.now(),
        )
    )  # fmt: skip
    Contact.objects.filter(pk=blocked.pk).update(blocked=True)

    totals = send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert totals["refused"] == 2 and totals["failed"] == 1 and totals["accepted"] == 1

    campaign.refresh_from_db()
    assert campaign.state != CampaignState.PAUSED and not campaign.auto_paused
    assert simulator.counts().get(ok.wa_id) == 1
    assert opting_out.wa_id not in simulator.counts()
    assert blocked.wa_id not in simulator.counts()
    progress = campaign_progress(campaign)
    assert progress["excluded_at_send"] == {"opted_out": 1, "blocked": 1}
    assert progress["excluded"] == {"opted_out": 1, "blocked": 1}
    assert progress["counts"]["excluded"] == 2 and progress["counts"]["failed"] == 1
    assert [e["code"] for e in progress["errors"]] == [131026]  # the provider's failure only
    assert progress["total"] == 4 and progress["pending"] == 0


def test_preflight_asks_the_policy_about_the_number(channel, tag):
    audience(tag, 3)
    campaign = make_campaign(channel, tag)
    assert campaign_preflight(campaign).ok
    campaign.channel.number_status = "RESTRICTED"  # Meta's account_update, say
    problems = campaign_preflight(campaign).problems
    assert any("restricted by WhatsApp" in p for p in problems)
    campaign.channel.is_active = False
    assert any("is not sending" in p for p in campaign_preflight(campaign).problems)
