"""The staff inbox pages: permissions (every page and action), the list (order, badges,
filters, search, query count), the thread (every message type, ticks, window), the reply
box (window enforcement, templates, media) and the actions."""

import datetime as dt
import json
import time
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm.models import Contact
from messaging.models import (
    AutomatedAnswer,
    Conversation,
    ConversationEvent,
    MediaAsset,
    Message,
    MessageTemplate,
    Status,
)
from messaging.providers.simulator.media import png_bytes
from messaging.sending.dispatch import send_batch_run
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    TemplateFactory,
    UserFactory,
)
from tests.messaging.inbox.support import inbound
from tests.messaging.webhooks.support import fixture, process

pytestmark = pytest.mark.django_db


@pytest.fixture
def wa_channel(db):
    return ChannelFactory()


@pytest.fixture
def agent(make_user):
    return make_user("Agent")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def conversation_with_window(channel, *, hours_ago: float = 1, **contact_kwargs):
    contact = ContactFactory(
        last_inbound_at=timezone.now() - dt.timedelta(hours=hours_ago), **contact_kwargs
    )
    return ConversationFactory(
        contact=contact, channel=channel, last_inbound_at=contact.last_inbound_at
    )


def shown(client, response):
    """A refused reply redirects back to the thread (POST-redirect-GET: a refresh sends
    nothing again); the page it redirects to says why."""
    assert response.status_code == 302 and response["Location"].endswith("#reply"), response
    page = client.get(response["Location"].split("#")[0])
    assert page.status_code == 200
    return page


# --- Permissions -------------------------------------------------------------------------------

PAGES = [
    "/staff/inbox/",
    "/staff/inbox/list/",
    "/staff/inbox/{pk}/",
    "/staff/inbox/{pk}/thread/",
    "/staff/faq/",
]
POSTS = [
    "reply/",
    "reply/link/",
    "reply/media/",
    "read/",
    "assign/",
    "assign-me/",
    "close/",
    "reopen/",
    "pin/",
    "unpin/",
    "block/",
    "unblock/",
]


def test_anonymous_users_go_to_the_login_page(client, wa_channel):
    conversation = conversation_with_window(wa_channel)
    for url in PAGES:
        response = client.get(url.format(pk=conversation.pk))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    for action in POSTS:
        response = client.post(f"/staff/inbox/{conversation.pk}/{action}", {"body": "x"})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], action


@pytest.mark.parametrize("role", ["Content reviewer", None])
def test_users_without_the_inbox_permission_get_403(client, make_user, wa_channel, role):
    conversation = conversation_with_window(wa_channel)
    client.force_login(make_user(role))
    for url in PAGES[:4]:
        assert client.get(url.format(pk=conversation.pk)).status_code == 403, url
    for action in POSTS:
        assert client.post(f"/staff/inbox/{conversation.pk}/{action}").status_code == 403, action
    assert Message.objects.count() == 0


def test_an_analyst_reads_but_cannot_reply_or_act(client, make_user, wa_channel):
    conversation = conversation_with_window(wa_channel)
    client.force_login(make_user("Analyst"))
    page = client.get(f"/staff/inbox/{conversation.pk}/")
    assert (
        page.status_code == 200 and b"You may read this conversation but not reply" in page.content
    )
    for action in POSTS:
        assert (
            client.post(f"/staff/inbox/{conversation.pk}/{action}", {"body": "hi"}).status_code
            == 403
        ), action
    assert not Message.objects.exists()
    assert Conversation.objects.get().is_open


def test_the_nav_shows_the_inbox_to_agents_only(client, agent, make_user):
    client.force_login(agent)
    assert b'href="/staff/inbox/"' in client.get("/staff/").content
    client.force_login(make_user("Content reviewer"))
    assert b'href="/staff/inbox/"' not in client.get("/staff/").content


def test_unknown_conversations_and_actions_are_404(agent_client, wa_channel):
    conversation = conversation_with_window(wa_channel)
    assert agent_client.get("/staff/inbox/999999/").status_code == 404
    assert agent_client.post(f"/staff/inbox/{conversation.pk}/explode/").status_code == 404


# --- The list ----------------------------------------------------------------------------------


def test_list_orders_pinned_first_then_by_activity_with_unread_badges(agent_client, wa_channel):
    now = timezone.now()
    old_pinned = ConversationFactory(
        channel=wa_channel,
        last_activity_at=now - dt.timedelta(days=3),
        contact=ContactFactory(name="Pinned Person", pinned=True),
    )
    recent = ConversationFactory(
        channel=wa_channel,
        last_activity_at=now,
        contact=ContactFactory(name="Recent Rita", unread_count=3),
    )
    older = ConversationFactory(
        channel=wa_channel,
        last_activity_at=now - dt.timedelta(hours=2),
        contact=ContactFactory(name="Older Omar"),
    )
    MessageFactory(channel=wa_channel, contact=recent.contact, content={"body": "Where is it?"})
    page = agent_client.get("/staff/inbox/")
    assert page.status_code == 200
    names = [c.contact.name for c, _ in page.context["rows"]]
    assert names == ["Pinned Person", "Recent Rita", "Older Omar"]
    html = page.content.decode()
    assert 'data-testid="unread"' in html and "Where is it?" in html
    assert older.pk and old_pinned.pk


def test_filters_and_search(agent_client, agent, wa_channel):
    mine = conversation_with_window(wa_channel, name="Mine Maya")
    Conversation.objects.filter(pk=mine.pk).update(assignee=agent)
    closed = ConversationFactory(
        channel=wa_channel,
        is_open=False,
        contact=ContactFactory(name="Closed Carl", phone="+919811122233"),
    )
    stale = ConversationFactory(
        channel=wa_channel,
        contact=ContactFactory(
            name="Stale Sam", last_inbound_at=timezone.now() - dt.timedelta(days=2)
        ),
        last_inbound_at=timezone.now() - dt.timedelta(days=2),
    )
    MessageFactory(channel=wa_channel, contact=stale.contact, content={"body": "Refund my saree"})

    def names(query):
        page = agent_client.get(f"/staff/inbox/list/?{query}")
        assert page.status_code == 200
        return sorted(c.contact.name for c, _ in page.context["rows"])

    assert names("assigned=mine") == ["Mine Maya"]
    assert names("assigned=unassigned") == ["Closed Carl", "Stale Sam"]
    assert names("state=closed") == ["Closed Carl"]
    assert names("state=open") == ["Mine Maya", "Stale Sam"]
    assert names("window=on") == ["Mine Maya"]
    assert names("q=carl") == ["Closed Carl"]
    assert names("q=98111") == ["Closed Carl"]  # phone
    assert names("q=saree") == ["Stale Sam"]  # message text
    assert names("q=nothing-like-this") == []
    assert closed.pk


def test_list_query_count_does_not_grow_with_conversations(
    agent_client, wa_channel, django_assert_max_num_queries
):
    for _ in range(30):
        conversation = conversation_with_window(wa_channel)
        MessageFactory(channel=wa_channel, contact=conversation.contact)
    with django_assert_max_num_queries(12):
        assert agent_client.get("/staff/inbox/").status_code == 200
    with django_assert_max_num_queries(10):
        assert agent_client.get("/staff/inbox/list/?q=a&state=open").status_code == 200


def test_the_list_and_thread_poll_themselves(agent_client, wa_channel):
    conversation = conversation_with_window(wa_channel)
    html = agent_client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert 'hx-get="/staff/inbox/list/?' in html and 'hx-trigger="every 3s"' in html
    assert f'hx-get="/staff/inbox/{conversation.pk}/thread/"' in html
    assert "<script>" not in html and " style=" not in html  # strict CSP


# --- The thread --------------------------------------------------------------------------------


def test_every_inbound_type_is_rendered(agent_client, wa_channel):
    Message.objects.create(
        channel=wa_channel,
        contact=ContactFactory(wa_id="919800000000"),
        direction="out",
        type="text",
        content={"body": "x"},
        wamid="wamid.OUT.campaign",
        status=Status.READ,
    )
    with mock.patch("messaging.webhooks.inbound.media_fetch_enqueue"):
        process(fixture("inbound_types.json"))
    # The fixture's system message is a number change: the thread moved with its contact to
    # the new number, and what the old number sent after it is another thread (below).
    conversation = Conversation.objects.get(contact__wa_id="919812345679")
    image = Message.objects.get(wamid="wamid.IN.image")
    image.media_file.save("receipt.jpg", ContentFile(b"\xff\xd8\xffjpeg"), save=True)
    Message.objects.filter(wamid="wamid.OUT.campaign").update(
        contact=conversation.contact, reaction="👍"
    )
    page = agent_client.get(f"/staff/inbox/{conversation.pk}/thread/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hello" in html
    assert "My receipt" in html and f"/staff/inbox/media/{image.pk}/" in html
    assert "media id 1003383421387257" in html  # video not downloaded yet
    assert "invoice-1042.pdf" not in html or "Invoice" in html
    assert "Cubbon Park" in html and "openstreetmap.org/?mlat=12.971599" in html
    assert "Ravi Kumar" in html
    assert "Tapped <strong>Unlock today&#x27;s tip</strong> <code>UNLOCK_DAILY_TIP</code>" in html
    assert "Chose <strong>Tuesday 10:00</strong> <code>slot-2</code>" in html
    assert "Morning slot" in html
    assert 'data-testid="reaction"' in html and "👍" in html
    assert 'data-type="reaction"' not in html  # shown on its target, not as a message
    assert "System: User A changed from" in html
    later = Conversation.objects.get(contact__wa_id="919812345678")
    later_html = agent_client.get(f"/staff/inbox/{later.pk}/thread/").content.decode()
    assert "Unsupported message" in later_html


def test_outbound_ticks_errors_and_templates(agent_client, wa_channel):
    conversation = conversation_with_window(wa_channel)
    contact = conversation.contact
    template = TemplateFactory(
        channel=wa_channel,
        name="order_update",
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, order {{2}} ships today."},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "URL", "text": "Track", "url": "https://t.example/{{1}}"}],
            },
        ],
        parameters={"header": ["1"], "body": ["1", "2"], "buttons": {"0": ["1"]}},
    )
    sent = [
        MessageFactory(channel=wa_channel, contact=contact, status=status, content={"body": name})
        for name, status in [
            ("q", Status.QUEUED),
            ("s", Status.SENT),
            ("d", Status.DELIVERED),
            ("r", Status.READ),
        ]
    ]
    MessageFactory(
        channel=wa_channel,
        contact=contact,
        status=Status.FAILED,
        error_code=131047,
        content={"body": "late"},
    )
    MessageFactory(
        channel=wa_channel,
        contact=contact,
        type="template",
        template=template,
        content={
            "name": "order_update",
            "language": {"code": "en"},
            "components": [
                {"type": "header", "parameters": [{"type": "text", "text": "#77"}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Asha"},
                        {"type": "text", "text": "#77"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": "77"}],
                },
            ],
        },
        status=Status.READ,
    )
    html = agent_client.get(f"/staff/inbox/{conversation.pk}/thread/").content.decode()
    for status in ("queued", "sent", "delivered", "read", "failed"):
        assert f'data-status="{status}"' in html, status
    assert "131047: More than 24 hours since the user last wrote" in html
    assert "Order #77" in html and "Hi Asha, order #77 ships today." in html
    assert "Reply STOP to opt out" in html and "https://t.example/77" in html
    assert len(sent) == 4


def test_window_remaining_time_and_reply_box_modes(agent_client, wa_channel):
    open_conv = conversation_with_window(wa_channel, hours_ago=19)
    TemplateFactory(channel=wa_channel, name="hello_there")
    html = agent_client.get(f"/staff/inbox/{open_conv.pk}/").content.decode()
    assert (
        "24-hour window open: <strong>4 h 59 min</strong> left" in html
        or "24-hour window open: <strong>5 h 0 min</strong> left" in html
    )
    assert 'data-testid="reply-form"' in html and 'data-testid="template-hello_there-en"' in html
    closed_conv = conversation_with_window(wa_channel, hours_ago=30)
    html = agent_client.get(f"/staff/inbox/{closed_conv.pk}/").content.decode()
    assert "24-hour window closed" in html and 'data-testid="window-closed"' in html
    assert (
        'data-testid="reply-form"' not in html and 'data-testid="template-hello_there-en"' in html
    )


def test_conversation_notes_show_assignments_and_closes(agent_client, agent, wa_channel):
    conversation = conversation_with_window(wa_channel)
    agent_client.post(f"/staff/inbox/{conversation.pk}/assign-me/")
    agent_client.post(f"/staff/inbox/{conversation.pk}/close/")
    html = agent_client.get(f"/staff/inbox/{conversation.pk}/thread/").content.decode()
    assert f"Assigned to {agent.username} by {agent.username}" in html
    assert f"Closed by {agent.username}" in html


# --- Replies -----------------------------------------------------------------------------------


def test_reply_with_text_inside_the_window(
    agent_client, agent, wa_channel, django_capture_on_commit_callbacks
):
    conversation = conversation_with_window(wa_channel, unread_count=2)
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_client.post(
            f"/staff/inbox/{conversation.pk}/reply/", {"body": "  On its way!  "}
        )
    assert response.status_code == 302 and response["Location"].endswith("#reply")
    message = Message.objects.get()
    assert (message.content["body"], message.sent_by, message.status) == (
        "On its way!",
        agent,
        Status.QUEUED,
    )
    assert message.conversation_id == conversation.pk and not message.is_automated
    assert Contact.objects.get(pk=conversation.contact_id).unread_count == 0
    assert callbacks  # the send is nudged after commit


def test_free_text_outside_the_window_is_refused(agent_client, wa_channel):
    conversation = conversation_with_window(wa_channel, hours_ago=25)
    response = shown(
        agent_client,
        agent_client.post(f"/staff/inbox/{conversation.pk}/reply/", {"body": "Hello?"}),
    )
    assert b"window_closed" in response.content and b"only an approved template" in response.content
    assert not Message.objects.exists()


def test_template_reply_outside_the_window_with_parameter_inputs(agent_client, wa_channel):
    conversation = conversation_with_window(wa_channel, hours_ago=48)
    template = TemplateFactory(channel=wa_channel, name="order_update")
    page = agent_client.get(f"/staff/inbox/{conversation.pk}/")
    form = next(f for f in page.context["template_forms"] if f.template == template)
    assert list(form.fields) == ["body_0", "body_1"]
    url = f"/staff/inbox/{conversation.pk}/reply/template/{template.pk}/"
    missing = agent_client.post(url, {f"t{template.pk}-body_0": "Asha"})
    assert b"This field is required" in shown(agent_client, missing).content
    assert not Message.objects.exists()
    response = agent_client.post(
        url, {f"t{template.pk}-body_0": "Asha", f"t{template.pk}-body_1": "#42"}
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.type == "template" and message.template == template
    params = message.content["components"][0]["parameters"]
    assert [p["text"] for p in params] == ["Asha", "#42"]


def test_marketing_templates_need_consent_and_unapproved_ones_are_not_offered(
    agent_client, wa_channel
):
    conversation = conversation_with_window(wa_channel, hours_ago=48, consent="unknown")
    promo = TemplateFactory(
        channel=wa_channel,
        name="promo",
        category="MARKETING",
        parameters={},
        components=[{"type": "BODY", "text": "Sale!"}],
    )
    pending = TemplateFactory(channel=wa_channel, name="draft", status="PENDING")
    response = agent_client.post(f"/staff/inbox/{conversation.pk}/reply/template/{promo.pk}/")
    assert b"no_consent" in shown(agent_client, response).content
    response = agent_client.post(f"/staff/inbox/{conversation.pk}/reply/template/{pending.pk}/")
    assert response.status_code == 404


def test_media_by_link_passes_the_ssrf_guard(agent_client, wa_channel, settings):
    settings.MEDIA_URL_ALLOW_PRIVATE = False
    conversation = conversation_with_window(wa_channel)
    url = f"/staff/inbox/{conversation.pk}/reply/link/"
    refused = agent_client.post(url, {"kind": "image", "link": "http://127.0.0.1/x.png"})
    assert b"media_url_refused" in shown(agent_client, refused).content
    ok = agent_client.post(
        url, {"kind": "document", "link": "https://93.184.215.14/a.pdf", "caption": "Invoice"}
    )
    assert ok.status_code == 302
    assert Message.objects.get().content == {
        "link": "https://93.184.215.14/a.pdf",
        "caption": "Invoice",
    }


def test_media_upload_goes_to_the_provider_and_is_sent_by_id(agent_client, channel, simulator):
    conversation = conversation_with_window(channel)
    upload = SimpleUploadedFile("chart.png", png_bytes(), content_type="image/png")
    response = agent_client.post(
        f"/staff/inbox/{conversation.pk}/reply/media/", {"file": upload, "caption": "Today's chart"}
    )
    assert response.status_code == 302, response.content[:500]
    message = Message.objects.get()
    asset = MediaAsset.objects.get()  # kept in the media library
    assert message.type == "image"
    assert message.content == {"asset": asset.pk, "caption": "Today's chart"}
    assert message.media_id in simulator.state.media  # uploaded before the reply was queued
    assert message.media_file.name.endswith(".png")
    media = agent_client.get(f"/staff/inbox/media/{message.pk}/")
    assert media.status_code == 200 and media["Content-Type"] == "image/png"
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    sent = simulator.state.list_messages(limit=5)[0]
    assert sent["body"] == {"id": message.media_id, "caption": "Today's chart"}
    assert len(simulator.state.media) == 1  # the dispatcher reused the id


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("tool.exe", b"MZ...", b"upload_type_refused"),
        ("fake.png", b"<html>not a png</html>", b"upload_type_refused"),
        ("empty.pdf", b"", b"File"),
    ],
)
def test_uploads_are_checked_before_anything_leaves(agent_client, wa_channel, name, content, code):
    conversation = conversation_with_window(wa_channel)
    with mock.patch("messaging.channels.clients.provider_for_channel") as provider:
        response = agent_client.post(
            f"/staff/inbox/{conversation.pk}/reply/media/",
            {"file": SimpleUploadedFile(name, content)},
        )
    assert code in shown(agent_client, response).content
    provider.assert_not_called()
    assert not Message.objects.exists()


def test_uploads_over_the_limit_are_refused(agent_client, wa_channel, settings):
    settings.INBOX_UPLOAD_MAX_BYTES = 1000
    conversation = conversation_with_window(wa_channel)
    big = SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * 2000)
    response = agent_client.post(f"/staff/inbox/{conversation.pk}/reply/media/", {"file": big})
    assert b"upload_too_large" in shown(agent_client, response).content


def test_upload_outside_the_window_is_refused_before_the_provider(agent_client, wa_channel):
    conversation = conversation_with_window(wa_channel, hours_ago=30)
    with mock.patch("messaging.channels.clients.provider_for_channel") as provider:
        response = agent_client.post(
            f"/staff/inbox/{conversation.pk}/reply/media/",
            {"file": SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")},
        )
    assert b"window_closed" in shown(agent_client, response).content
    provider.assert_not_called()


def test_media_files_need_the_inbox_permission_and_download_unsafe_types(
    client, agent, make_user, wa_channel
):
    message = MessageFactory(channel=wa_channel, content={"mime_type": "text/html"})
    message.media_file.save("page.html", ContentFile(b"<script>alert(1)</script>"), save=True)
    url = f"/staff/inbox/media/{message.pk}/"
    assert client.get(url).status_code == 302
    client.force_login(make_user("Content reviewer"))
    assert client.get(url).status_code == 403
    client.force_login(agent)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


# --- Actions -----------------------------------------------------------------------------------


def test_mark_as_read_clears_the_badge_and_tells_whatsapp_in_the_background(
    agent_client, wa_channel, django_capture_on_commit_callbacks
):
    message = inbound(body="hello")
    conversation = message.conversation
    assert Contact.objects.get(pk=message.contact_id).unread_count == 1
    from messaging.inbox.tasks import inbox_mark_read

    with (
        mock.patch.object(inbox_mark_read, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = agent_client.post(f"/staff/inbox/{conversation.pk}/read/")
    assert response.status_code == 302
    assert Contact.objects.get(pk=message.contact_id).unread_count == 0
    # An agent who may reply also shows the contact the typing indicator.
    delay.assert_called_once_with(wa_channel.pk, message.wamid, typing=True)


def test_opening_a_thread_marks_it_read_with_the_typing_indicator(
    agent_client, wa_channel, django_capture_on_commit_callbacks
):
    """The page asks (htmx, on load, with the CSRF token) for the read mark as it opens: an
    agent who may reply shows the contact the typing dots; the GET itself changes nothing."""
    message = inbound(body="where is my order?")
    conversation = message.conversation
    page = agent_client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="read-on-open"' in page and 'hx-trigger="load"' in page
    assert Contact.objects.get(pk=message.contact_id).unread_count == 1
    from messaging.inbox.tasks import inbox_mark_read

    with (
        mock.patch.object(inbox_mark_read, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = agent_client.post(
            f"/staff/inbox/{conversation.pk}/read/", HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 204
    assert Contact.objects.get(pk=message.contact_id).unread_count == 0
    delay.assert_called_once_with(wa_channel.pk, message.wamid, typing=True)
    page = agent_client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="read-on-open"' not in page  # nothing left to mark


def test_the_read_task_calls_the_provider(channel, simulator):
    from messaging.inbox.tasks import inbox_mark_read

    assert inbox_mark_read.apply(args=[channel.pk, "wamid.IN.read-me"]).get() is True
    assert list(simulator.state.read_marks) == ["wamid.IN.read-me"]
    assert simulator.typing_indicators() == []


def test_the_read_task_shows_the_typing_indicator(channel, simulator):
    from messaging.inbox.tasks import inbox_mark_read

    result = inbox_mark_read.apply(args=[channel.pk, "wamid.IN.typing"], kwargs={"typing": True})
    assert result.get() is True
    assert list(simulator.state.read_marks) == ["wamid.IN.typing"]
    assert simulator.typing_indicators() == ["wamid.IN.typing"]


@pytest.fixture
def eager_tasks():
    """Enqueued tasks run at once in this process, as a worker would run them."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_opening_a_conversation_shows_whatsapp_one_typing_indicator(
    agent_client, channel, simulator, eager_tasks, django_capture_on_commit_callbacks
):
    message = inbound(body="Is anyone there?")
    assert message.channel == channel
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(f"/staff/inbox/{message.conversation_id}/read/")
    assert response.status_code == 302
    assert simulator.typing_indicators() == [message.wamid]
    assert list(simulator.state.read_marks) == [message.wamid]


def test_no_typing_indicator_for_someone_who_cannot_reply(
    client, wa_channel, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    from messaging.inbox.tasks import inbox_mark_read

    supervisor = UserFactory(username="no-reply")
    supervisor.user_permissions.set(
        Permission.objects.filter(
            codename__in=["access_staff", "view_conversation", "change_conversation"]
        )
    )
    client.force_login(supervisor)
    message = inbound(body="hello")
    with (
        mock.patch.object(inbox_mark_read, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(f"/staff/inbox/{message.conversation_id}/read/")
    assert response.status_code == 302
    delay.assert_called_once_with(wa_channel.pk, message.wamid)


def test_a_reply_marks_read_without_a_typing_indicator(
    agent_client, wa_channel, django_capture_on_commit_callbacks
):
    from messaging.inbox.tasks import inbox_mark_read

    message = inbound(body="hello")
    with (
        mock.patch.object(inbox_mark_read, "delay") as delay,
        mock.patch("messaging.sending.nudge.send_enqueue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = agent_client.post(
            f"/staff/inbox/{message.conversation_id}/reply/", {"body": "On it"}
        )
    assert response.status_code == 302
    delay.assert_called_once_with(wa_channel.pk, message.wamid)


def test_a_typing_indicator_is_not_retried(channel, django_capture_on_commit_callbacks):
    """A temporary failure retries the read mark alone: dots shown seconds late could
    outlive the reply they announced."""
    from messaging.inbox.tasks import inbox_mark_read
    from messaging.models import Channel
    from tests.messaging.providers.support import Loopback, json_answer

    answers = iter([json_answer({"error": {"code": 2, "message": "down"}}, status=503)])
    server = Loopback(lambda request: next(answers, json_answer({"success": True})))
    try:
        Channel.objects.filter(pk=channel.pk).update(base_url=server.url)
        result = inbox_mark_read.apply(
            args=[channel.pk, "wamid.IN.x"], kwargs={"typing": True}, throw=False
        )  # an eager retry runs at once, as a worker would after the countdown
        bodies = [json.loads(r["body"]) for r in server.wait_for(2)]
    finally:
        server.close()
    assert result.get() is True
    assert [b.get("typing_indicator") for b in bodies] == [{"type": "text"}, None]
    assert [b["message_id"] for b in bodies] == ["wamid.IN.x", "wamid.IN.x"]


def test_assign_close_reopen_pin_block(agent_client, agent, make_user, wa_channel):
    other = make_user("Agent", username="other-agent")
    conversation = conversation_with_window(wa_channel)
    base = f"/staff/inbox/{conversation.pk}"
    agent_client.post(f"{base}/assign/", {"assignee": other.pk})
    assert Conversation.objects.get().assignee == other
    response = agent_client.post(f"{base}/assign/", {"assignee": UserFactory(username="nobody").pk})
    assert response.status_code == 302 and Conversation.objects.get().assignee == other
    agent_client.post(f"{base}/assign-me/")
    assert Conversation.objects.get().assignee == agent
    agent_client.post(f"{base}/close/")
    closed = Conversation.objects.get()
    assert (closed.is_open, closed.closed_by) == (False, agent) and closed.closed_at
    agent_client.post(f"{base}/reopen/")
    assert Conversation.objects.get().is_open
    agent_client.post(f"{base}/pin/")
    assert Contact.objects.get().pinned
    agent_client.post(f"{base}/unpin/")
    assert not Contact.objects.get().pinned
    agent_client.post(f"{base}/block/")
    assert Contact.objects.get().blocked
    page = agent_client.get(f"{base}/")
    assert b"The contact is blocked" in page.content
    refused = agent_client.post(f"{base}/reply/", {"body": "hi"})
    assert b"contact_blocked" in shown(agent_client, refused).content
    agent_client.post(f"{base}/unblock/")
    assert not Contact.objects.get().blocked
    kinds = list(ConversationEvent.objects.values_list("kind", flat=True))
    assert kinds.count("assigned") == 2 and "closed" in kinds and "opened" in kinds


def test_closing_twice_says_so(agent_client, wa_channel):
    conversation = conversation_with_window(wa_channel)
    agent_client.post(f"/staff/inbox/{conversation.pk}/close/")
    response = agent_client.post(f"/staff/inbox/{conversation.pk}/close/", follow=True)
    assert b"already closed" in response.content


def test_rating_an_automated_answer(agent_client, agent, make_user, wa_channel, client):
    conversation = conversation_with_window(wa_channel)
    reply = MessageFactory(
        channel=wa_channel,
        contact=conversation.contact,
        is_automated=True,
        conversation=conversation,
    )
    answer = AutomatedAnswer.objects.create(
        message=reply, responder="faq", topic="delivery", confidence=0.8
    )
    html = agent_client.get(f"/staff/inbox/{conversation.pk}/thread/").content.decode()
    assert 'data-testid="automated-answer"' in html and 'data-testid="rate-4"' in html
    response = agent_client.post(f"/staff/inbox/answers/{answer.pk}/rate/", {"rating": "4"})
    assert response.status_code == 302
    answer.refresh_from_db()
    assert (answer.rating, answer.rated_by) == (4, agent) and answer.rated_at
    agent_client.post(f"/staff/inbox/answers/{answer.pk}/rate/", {"rating": "9"})
    answer.refresh_from_db()
    assert answer.rating == 4
    htmx = agent_client.post(
        f"/staff/inbox/answers/{answer.pk}/rate/",
        {"rating": "5"},
        HTTP_HX_REQUEST="true",
        follow=True,
    )
    assert htmx.status_code == 200 and b'id="thread"' in htmx.content
    analyst = make_user("Analyst")
    client.force_login(analyst)
    assert (
        client.post(f"/staff/inbox/answers/{answer.pk}/rate/", {"rating": "1"}).status_code == 403
    )
    answer.refresh_from_db()
    assert answer.rating == 5


# --- FAQ page ----------------------------------------------------------------------------------


def test_faq_page_lists_tries_and_edits_entries(agent_client, agent, make_user, client):
    response = agent_client.post(
        "/staff/faq/new/",
        {
            "question": "How long does delivery take?",
            "keywords": "delivery, arrive",
            "answer": "2-3 days.",
            "topic": "  Delivery ",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    from messaging.models import FaqEntry

    entry = FaqEntry.objects.get()
    assert entry.topic == "delivery"
    page = agent_client.get("/staff/faq/?question=when+will+it+arrive")
    assert page.status_code == 200 and b"2-3 days." in page.content
    assert page.context["result"]["answer"].topic == "delivery"
    agent_client.post(
        f"/staff/faq/{entry.pk}/",
        {
            "question": entry.question,
            "keywords": entry.keywords,
            "answer": "Two days.",
            "topic": "delivery",
        },
    )
    entry.refresh_from_db()
    assert entry.answer == "Two days." and not entry.enabled
    client.force_login(make_user("Analyst"))
    assert client.get("/staff/faq/").status_code == 200
    assert client.get("/staff/faq/new/").status_code == 403
    assert client.post(f"/staff/faq/{entry.pk}/delete/").status_code == 403
    client.force_login(make_user("Content reviewer"))
    assert client.get("/staff/faq/").status_code == 403
    client.force_login(agent)
    client.post(f"/staff/faq/{entry.pk}/delete/")
    assert not FaqEntry.objects.exists()


def test_first_response_from_the_reply_box(agent_client, wa_channel):
    message = inbound(body="Hi, where is my order?")
    time.sleep(0.01)
    agent_client.post(f"/staff/inbox/{message.conversation_id}/reply/", {"body": "Today!"})
    conversation = Conversation.objects.get()
    assert conversation.first_response_at and not conversation.first_response_automated
    event = ConversationEvent.objects.get(kind="first_response")
    assert event.seconds >= 0 and not event.automated
    # A second reply is not a first response.
    agent_client.post(f"/staff/inbox/{message.conversation_id}/reply/", {"body": "More"})
    assert ConversationEvent.objects.filter(kind="first_response").count() == 1
    assert MessageTemplate.objects.count() == 0


def test_long_threads_offer_older_messages(agent_client, wa_channel):
    conversation = conversation_with_window(wa_channel)
    Message.objects.bulk_create(
        [Message(channel=wa_channel, contact=conversation.contact, direction="out", type="text",
                 content={"body": f"m{i}"}) for i in range(105)]
    )  # fmt: skip
    page = agent_client.get(f"/staff/inbox/{conversation.pk}/thread/")
    assert len(page.context["items"]) == 100 and b'data-testid="older"' in page.content
    page = agent_client.get(f"/staff/inbox/{conversation.pk}/thread/?limit=200")
    assert len(page.context["items"]) == 105 and b'data-testid="older"' not in page.content
    assert b"thread/?limit=200" in page.content  # the poll keeps the longer view
