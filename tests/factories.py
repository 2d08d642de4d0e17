import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.models import Contact
from messaging.models import Conversation


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=extracted))


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.Contact"

    phone = factory.Sequence(lambda n: f"+9198{n:08d}")
    wa_id = factory.LazyAttribute(lambda c: c.phone.lstrip("+") if c.phone else None)
    name = factory.Faker("name")
    consent = "opted_in"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.Channel"
        django_get_or_create = ("phone_number_id",)

    name = "Main number"
    provider = "meta_cloud"
    phone_number_id = "200000000000001"
    waba_id = "100000000000001"
    display_phone_number = "15550001111"


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.MessageTemplate"

    channel = factory.SubFactory(ChannelFactory)
    name = factory.Sequence(lambda n: f"template_{n}")
    language = "en"
    category = "UTILITY"
    status = "APPROVED"
    components = factory.LazyFunction(
        lambda: [{"type": "BODY", "text": "Hello {{1}}, your order {{2}} is confirmed."}]
    )
    parameters = factory.LazyFunction(lambda: {"body": ["1", "2"]})


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.Message"

    channel = factory.SubFactory(ChannelFactory)
    contact = factory.SubFactory(ContactFactory)
    direction = "out"
    type = "text"
    content = factory.LazyFunction(lambda: {"body": "Hello"})
    status = 10


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.Tag"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class AttributeDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.AttributeDefinition"
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"attr_{n}")
    label = factory.LazyAttribute(lambda a: a.key.replace("_", " ").capitalize())
    type = "text"


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.Segment"

    name = factory.Sequence(lambda n: f"Segment {n}")
    filter = factory.LazyFunction(dict)


class AdvisorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.Advisor"

    contact = factory.SubFactory(ContactFactory)
    firm = factory.Sequence(lambda n: f"Firm {n % 5}")
    region = "West"
    tier = "silver"
    content_preferences = factory.LazyFunction(lambda: ["markets"])


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.Conversation"

    contact = factory.SubFactory(ContactFactory)
    channel = factory.SubFactory(ChannelFactory)


def window_open(contact, channel, *, at=None):
    """Open `contact`'s 24-hour window with `channel` as their message to that number does:
    the conversation's last inbound time (the window is per number), and the contact's."""
    at = at or timezone.now()
    conversation, _ = Conversation.objects.update_or_create(
        contact=contact, channel=channel, defaults={"last_inbound_at": at}
    )
    Contact.objects.filter(pk=contact.pk).update(last_inbound_at=at)
    contact.last_inbound_at = at
    return conversation


# --- Operations centre (analytics.ops) ---------------------------------------------------------


class JobRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "analytics.JobRun"

    name = "sync_templates"
    trigger = "user"
    state = "succeeded"


class AppErrorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "analytics.AppError"

    level = "ERROR"
    logger = "parley.test"
    message = factory.Sequence(lambda n: f"Something broke {n}")


class HealthSampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "analytics.HealthSample"

    ok = True
    components = factory.LazyFunction(lambda: {"database": {"state": "ok", "latency_ms": 1.0}})
    numbers = factory.LazyFunction(lambda: {"queue_depth": 0, "webhook_backlog": 0})


class OpsWebhookEventFactory(factory.django.DjangoModelFactory):
    """A stored webhook body (the operations tests only need its state, time and error)."""

    class Meta:
        model = "messaging.WebhookEvent"

    provider = "meta_cloud"
    body = factory.Sequence(lambda n: f'{{"object": "whatsapp_business_account", "n": {n}}}')
    body_sha256 = factory.Sequence(lambda n: f"{n:064x}")
    state = "processed"


# --- Content for advisors and notifications --------------------------------------------------


def _content_today():
    from messaging.content.services import content_today

    return content_today()


def _notification_type(code: str):
    from messaging.models import NotificationType

    return NotificationType.objects.get(code=code)


class ContentItemFactory(factory.django.DjangoModelFactory):
    """A draft; pass `template=` (e.g. the synced `advisor_content_ready`) to make it ready."""

    class Meta:
        model = "messaging.ContentItem"

    title = factory.Sequence(lambda n: f"Market note {n}")
    body = "Mid-caps rallied 2.1% on strong earnings. Full note: https://research.example.com/n/1"
    category = "markets"
    send_on = factory.LazyFunction(lambda: _content_today())
    unlock_buttons = factory.LazyFunction(
        lambda: [
            {"kind": "UNLOCK_CONTENT", "title": "Unlock content"},
            {"kind": "UNLOCK_IMAGES", "title": "Get images"},
            {"kind": "SHARE_WITH_CLIENTS", "title": "Share with clients"},
        ]
    )


class NotificationFactory(factory.django.DjangoModelFactory):
    """A notification row for list and filter tests (no message: refused unless given one)."""

    class Meta:
        model = "messaging.Notification"

    event_type = factory.LazyFunction(lambda: _notification_type("order_confirmation"))
    contact = factory.SubFactory(ContactFactory)
    reference_id = factory.Sequence(lambda n: f"ORD-{n:05d}")
    variables = factory.LazyFunction(dict)
    refusal_code = "notification_opted_out"
    refusal_reason = "The contact opted out."


# --- Inbox and automation ----------------------------------------------------------------------


class FaqEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.FaqEntry"

    question = factory.Sequence(lambda n: f"Question {n}?")
    keywords = ""
    answer = factory.Sequence(lambda n: f"Answer {n}.")
    topic = "general"


class AutoReplyRuleFactory(factory.django.DjangoModelFactory):
    """A keyword rule that replies with text; override trigger/action as needed."""

    class Meta:
        model = "messaging.AutoReplyRule"

    name = factory.Sequence(lambda n: f"Rule {n}")
    order = factory.Sequence(lambda n: 100 + n)
    trigger = "keyword"
    trigger_value = "HELLO"
    action = "send_text"
    text = "Hello from the rule."


class InboundMessageFactory(MessageFactory):
    """An inbound text already received (window open from its time)."""

    direction = "in"
    status = 1
    content = factory.LazyFunction(lambda: {"body": "Hi"})
    wamid = factory.Sequence(lambda n: f"wamid.in{n:08d}")
    received_at = factory.LazyFunction(lambda: _now())
    created_at = factory.LazyAttribute(lambda m: m.received_at)


def _now():
    from django.utils import timezone

    return timezone.now()


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory):
    """An event webhook subscription (every event unless given) with a generated secret."""

    class Meta:
        model = "messaging.WebhookSubscription"

    name = factory.Sequence(lambda n: f"Integrator {n}")
    url = "https://hooks.example.com/parley"
    events = factory.LazyFunction(
        lambda: [
            "message.status", "message.inbound", "contact.consent", "conversion.created",
            "campaign.state", "notification.status",
        ]
    )  # fmt: skip
    secret = factory.LazyFunction(lambda: _secret())


def _secret():
    from messaging.hooks_out.signing import secret_generate

    return secret_generate()
