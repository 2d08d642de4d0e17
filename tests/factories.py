import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


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
