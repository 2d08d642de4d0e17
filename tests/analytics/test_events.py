"""Signal handlers: what messaging and crm report becomes analytics records; board sections;
the admin."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from analytics.models import ButtonClick, QualityRating, RollupDirtyDay
from analytics.ops.board import board_build
from analytics.receivers import on_button_clicked
from analytics.services import events
from messaging.models import (
    AutomatedAnswer,
    Campaign,
    CampaignState,
    ContentDelivery,
    ContentState,
    ContentTransition,
    Status,
)
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ContentItemFactory,
    InboundMessageFactory,
    MessageFactory,
)
from tests.messaging.webhooks.support import messages_payload, process

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 1, 0, 20, tzinfo=UTC)
SENT = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    events._recent_marks.clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def campaign_message():
    channel = ChannelFactory()
    campaign = Campaign.objects.create(name="New year", channel=channel)
    return MessageFactory(
        channel=channel, campaign=campaign, wamid="wamid.OUT.campaign", status=Status.DELIVERED,
        contact=ContactFactory(phone="+919812345678", wa_id="919812345678"),
        sent_at=SENT, delivered_at=SENT + timedelta(seconds=30), created_at=SENT,
    )  # fmt: skip


def _button(timestamp: int, **extra):
    return {
        "from": "919812345678", "id": f"wamid.IN.{timestamp}", "timestamp": str(timestamp),
        "type": "button", "context": {"from": "15550001111", "id": "wamid.OUT.campaign"},
        "button": {"payload": "SHOP_NOW", "text": "Shop now"}, **extra,
    }  # fmt: skip


def test_a_button_reply_webhook_becomes_a_click_with_its_campaign(
    campaign_message, django_capture_on_commit_callbacks
):
    tapped = int((SENT + timedelta(minutes=10, seconds=30)).timestamp())
    with django_capture_on_commit_callbacks(execute=True):
        event = process(messages_payload(_button(tapped)))
    assert event.state == "processed", event.error
    click = ButtonClick.objects.get()
    assert click.campaign_id == campaign_message.campaign_id
    assert click.replied_to == campaign_message
    assert (click.payload, click.title, click.label, click.kind) == (
        "SHOP_NOW", "Shop now", "Shop now", "button",
    )  # fmt: skip
    assert click.delay_seconds == 600.0  # from delivery (23:00:30) to the tap (23:10:30)
    assert click.channel_id == campaign_message.channel_id
    # The tap happened yesterday: that day is marked for the next rollup.
    assert RollupDirtyDay.objects.filter(day=SENT.date()).exists()

    # Meta redelivers the same webhook: still one click.
    with django_capture_on_commit_callbacks(execute=True):
        process(messages_payload(_button(tapped), name="Asha R."))
    assert ButtonClick.objects.count() == 1


def test_a_list_reply_and_a_content_announcement(django_capture_on_commit_callbacks):
    contact = ContactFactory()
    item = ContentItemFactory()
    announcement = MessageFactory(contact=contact, status=Status.READ, read_at=SENT)
    ContentDelivery.objects.create(content_item=item, contact=contact, message=announcement)
    reply = InboundMessageFactory(
        contact=contact, channel=announcement.channel, type="interactive_reply",
        content={"id": "UNLOCK_CONTENT:7", "title": ""},
    )  # fmt: skip
    on_button_clicked(
        sender=None, message=reply, payload="UNLOCK_CONTENT:7", title="", replied_to=announcement
    )
    click = ButtonClick.objects.get()
    assert (click.kind, click.content_item, click.label) == ("list", item, "UNLOCK_CONTENT")
    assert click.delay_seconds == (NOW - SENT).total_seconds()


def test_a_failing_handler_never_breaks_the_sender(caplog):
    on_button_clicked(sender=None, message=object(), payload="x", title="y")
    assert "analytics handler on_button_clicked failed" in caplog.text


def test_a_rating_is_recorded(django_capture_on_commit_callbacks, make_user):
    from messaging.inbox.services import answer_rate

    reply = MessageFactory(is_automated=True, status=Status.DELIVERED)
    answer = AutomatedAnswer.objects.create(message=reply, responder="faq", topic="delivery")
    agent = make_user("Agent")
    with django_capture_on_commit_callbacks(execute=True):
        answer_rate(answer=answer, rating=4, user=agent)
    with django_capture_on_commit_callbacks(execute=True):
        answer_rate(answer=answer, rating=2, user=agent)
    ratings = list(QualityRating.objects.order_by("pk").values_list("rating", "previous", "topic"))
    assert ratings == [(4, None, "delivery"), (2, 4, "delivery")]


def test_a_consent_change_for_a_past_day_marks_it(django_capture_on_commit_callbacks):
    from crm.services import consent_set

    contact = ContactFactory(consent="opted_in")
    with django_capture_on_commit_callbacks(execute=True):
        consent_set(contact=contact, consent="opted_out", source="api", at=SENT)
    assert RollupDirtyDay.objects.filter(day=SENT.date()).exists()


def test_board_sections_for_campaigns_notifications_and_content(make_user):
    channel = ChannelFactory()
    campaign = Campaign.objects.create(
        name="Live", channel=channel, state=CampaignState.RUNNING, launched_at=NOW
    )
    MessageFactory(channel=channel, campaign=campaign, created_at=NOW)
    item = ContentItemFactory(state=ContentState.PENDING_REVIEW)
    ContentTransition.objects.create(content_item=item, to_state=ContentState.APPROVED)
    delivered = ContentItemFactory(distributed_at=NOW)
    ContentDelivery.objects.create(
        content_item=delivered, contact=ContactFactory(), message=MessageFactory(created_at=NOW)
    )
    board = board_build(user=make_user("Admin"))
    sections = {s["name"]: {r.label: r.value for r in s["rows"]} for s in board["sections"]}
    assert sections["campaigns"] == {"Running now": 1, "Launched today": 1, "With sends today": 1}
    assert sections["notifications"]["Requested"] == 0
    content = sections["content"]
    assert content["Generated"] == 2 and content["Pending review"] == 1
    assert (content["Approved"], content["Distributed"], content["Advisors served"]) == (1, 1, 1)
    assert all(not s["error"] for s in board["sections"])


def test_every_analytics_model_is_in_the_admin_read_only(client, make_user):
    from django.apps import apps
    from django.contrib import admin

    client.force_login(make_user("Admin"))
    for model in apps.get_app_config("analytics").get_models():
        assert model in admin.site._registry, model
        meta = model._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/"
        response = client.get(url)
        assert response.status_code == 200, url
        assert client.get(url + "add/").status_code == 403


def test_the_admin_exports_csv(client, make_user):
    from analytics.models import ConversionEvent

    contact = ContactFactory()
    row = ConversionEvent.objects.create(
        reference_id="=cmd|' /C calc'!A0", type="order", contact=contact, occurred_at=NOW
    )
    client.force_login(make_user("Admin"))
    response = client.post(
        "/admin/analytics/conversionevent/",
        {"action": "export_csv", "_selected_action": [row.pk]},
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=cmd|" in text and "reference_id" in text.splitlines()[0]
