"""crm reads messages only through the extension point messaging registers at ready().

With nothing registered crm pages still render and a channel filter is refused (or, when saved
earlier, matches nobody); with messaging's implementation they show messages, conversations
and filter by channel.
"""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm.extensions import (
    MessageActivity,
    MessageRow,
    NoMessaging,
    contact_messaging,
    contact_messaging_register,
)
from crm.segment_filters import segment_filter_clean
from crm.selectors import (
    channel_choices,
    contact_conversation_count,
    contact_recent_messages,
    segment_count,
    segment_counts,
    segment_queryset,
)
from messaging.crm_extension import MessagingForCrm
from tests.factories import (
    AdvisorFactory,
    ChannelFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db

CRM = Path(__file__).resolve().parents[2] / "crm"


@pytest.fixture
def no_messaging():
    """crm as it is without messaging: nothing registered."""
    previous = contact_messaging_register(NoMessaging())
    yield
    contact_messaging_register(previous)


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


@pytest.fixture
def history():
    """Two contacts with messages on two channels; A also has two conversations."""
    main = ChannelFactory()
    other = ChannelFactory(phone_number_id="999", name="Other")
    a, b = ContactFactory(name="A"), ContactFactory(name="B")
    ConversationFactory(contact=a, channel=main)
    ConversationFactory(contact=a, channel=other)
    MessageFactory(contact=a, channel=main, content={"body": "Your order shipped"}, status=50)
    MessageFactory(contact=a, channel=main, direction="in", type="button", status=1,
                   content={"text": "Yes please", "payload": "YES"})  # fmt: skip
    MessageFactory(contact=b, channel=other, content={"body": "Welcome"})
    return {"main": main, "other": other, "A": a, "B": b}


def test_messaging_registers_its_implementation_at_ready():
    assert isinstance(contact_messaging(), MessagingForCrm)


# --- Nothing registered -----------------------------------------------------------------------


def test_without_messaging_the_contact_page_shows_no_messages(no_messaging, manager, history):
    page = manager.get(reverse("crm:contact_detail", args=[history["A"].pk]))
    assert page.status_code == 200
    assert page.context["recent_messages"] == [] and page.context["conversation_count"] == 0
    assert b"No messages yet." in page.content and b"Your order shipped" not in page.content


def test_without_messaging_the_advisor_page_shows_no_activity(no_messaging, manager):
    advisor = AdvisorFactory()
    MessageFactory(contact=advisor.contact)
    page = manager.get(reverse("crm:advisor_detail", args=[advisor.pk]))
    assert page.status_code == 200
    assert page.context["received"] == [] and page.context["clicked"] == []
    assert page.context["counts"] == {"received": 0, "clicked": 0}
    assert b"Nothing sent yet." in page.content and b"No taps yet." in page.content


def test_without_messaging_the_channel_filter_is_refused(no_messaging, manager, history):
    assert channel_choices() == []
    with pytest.raises(ValidationError) as excinfo:
        segment_filter_clean({"channel": history["main"].pk})
    assert "channel" in excinfo.value.message_dict

    form = manager.get(reverse("crm:segment_new"))
    assert form.status_code == 200
    assert form.context["form"].fields["channel"].choices == [("", "Any channel")]
    preview = manager.post(reverse("crm:segment_preview"), {"channel": str(history["main"].pk)})
    assert b'<span class="error">channel:' in preview.content


def test_without_messaging_a_saved_channel_segment_matches_nobody(no_messaging, manager, history):
    segment = SegmentFactory(filter={"channel": history["main"].pk})
    assert list(segment_queryset(segment)) == []
    assert segment_count(segment) == 0 and segment_counts([segment]) == {segment.pk: 0}
    assert manager.get(reverse("crm:segment_list")).status_code == 200
    assert manager.get(reverse("crm:segment_detail", args=[segment.pk])).status_code == 200


# --- Messaging's implementation ---------------------------------------------------------------


def test_the_contact_page_shows_recent_messages_and_conversation_count(manager, history):
    page = manager.get(reverse("crm:contact_detail", args=[history["A"].pk]))
    rows = page.context["recent_messages"]
    assert all(isinstance(r, MessageRow) for r in rows)
    assert [(r.direction, r.type, r.summary) for r in rows] == [
        ("in", "button", "Yes please"),
        ("out", "text", "Your order shipped"),
    ]
    assert rows[1].type_label == "Text" and rows[1].status_label == "Delivered"
    assert page.context["conversation_count"] == 2
    assert b"<dt>Conversations</dt><dd>2</dd>" in page.content
    for text in (b"Your order shipped", b"Yes please", b"Delivered", b"Button reply"):
        assert text in page.content
    assert b"Welcome" not in page.content  # B's message


def test_recent_messages_are_bounded_and_newest_first(history):
    contact = history["B"]
    MessageFactory(contact=contact, content={"body": "Second"})
    assert [r.summary for r in contact_recent_messages(contact, limit=1)] == ["Second"]
    assert contact_conversation_count(contact) == 0


def test_advisor_activity_comes_through_the_extension():
    advisor = AdvisorFactory()
    MessageFactory(contact=advisor.contact, type="template", content={"name": "note"})
    MessageFactory(contact=advisor.contact, direction="in", type="button", status=1,
                   content={"payload": "unlock:1"})  # fmt: skip
    MessageFactory(contact=advisor.contact, direction="in", type="text", status=1)
    extension = contact_messaging()
    assert [r.summary for r in extension.sent_messages(advisor.contact, limit=10)] == [
        "Template note"
    ]
    assert [r.summary for r in extension.clicks(advisor.contact, limit=10)] == ["Payload unlock:1"]
    assert extension.activity(advisor.contact) == MessageActivity(received=1, clicked=1)


def test_the_segment_channel_filter_selects_contacts_with_messages_on_it(manager, history):
    main, other = history["main"], history["other"]
    assert channel_choices() == [(main.pk, str(main)), (other.pk, str(other))]
    segment = SegmentFactory(filter=segment_filter_clean({"channel": main.pk}))
    assert list(segment_queryset(segment)) == [history["A"]]
    segment = SegmentFactory(filter=segment_filter_clean({"channel": other.pk}))
    assert list(segment_queryset(segment)) == [history["B"]]  # A only has a conversation there

    form = manager.get(reverse("crm:segment_new"))
    assert (main.pk, str(main)) in form.context["form"].fields["channel"].choices
    preview = manager.post(reverse("crm:segment_preview"), {"channel": str(main.pk)})
    assert b'data-testid="preview-count">1<' in preview.content


# --- The floor --------------------------------------------------------------------------------


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
            "import_module",
            "get_model",
        ):
            yield from (a.value for a in node.args if isinstance(a, ast.Constant))


def test_crm_imports_nothing_of_messaging_and_reads_nothing_of_it_by_reflection():
    for path in CRM.rglob("*.py"):
        source = path.read_text()
        for module in _imported_modules(ast.parse(source)):
            assert not str(module).startswith("messaging"), f"{path} imports {module}"
        for name in ("messages", "conversations"):
            assert f'get_field("{name}")' not in source, path
            assert f".{name}." not in source, path  # e.g. contact.messages.filter(...)
