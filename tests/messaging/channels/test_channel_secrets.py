"""A channel's secret settings and base URL (README "Security notes").

Regressions: an Admin made Parley send `Bearer <SECRET_KEY>` to a URL of their choosing by
naming SECRET_KEY as a channel's token setting and pointing its base URL at their server.
"""

from importlib import import_module

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from messaging.channels.clients import ChannelMisconfigured, provider_for_channel
from messaging.channels.secrets import secret_setting_allowed
from messaging.models import Channel, Message, Status
from tests.factories import ChannelFactory, ContactFactory, MessageFactory, window_open

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name", ["WHATSAPP_API_TOKEN", "WHATSAPP_APP_SECRET", "MYOPERATOR_API_KEY", "WHATSAPP_X_2"]
)
def test_allowed_names(name):
    assert secret_setting_allowed(name)


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "DATABASE_URL",
        "LANGUAGE_CODE",
        "whatsapp_api_token",
        "WHATSAPP",
        "X_WHATSAPP_A",
        "WHATSAPP_A.B",
        "",
    ],
)
def test_disallowed_names(name):
    assert not secret_setting_allowed(name)


@pytest.mark.parametrize("field", ["token_setting", "app_secret_setting", "company_id_setting"])
def test_model_validation_refuses_a_disallowed_setting_name(field):
    channel = ChannelFactory.build(**{field: "SECRET_KEY"})
    with pytest.raises(ValidationError) as caught:
        channel.full_clean()
    assert field in caught.value.message_dict
    assert "WHATSAPP_*" in caught.value.message_dict[field][0]


def test_model_validation_applies_the_ssrf_guard_to_the_base_url(settings):
    settings.PROVIDER_URL_ALLOW_PRIVATE = False
    channel = ChannelFactory.build(base_url="http://169.254.169.254/latest")
    with pytest.raises(ValidationError) as caught:
        channel.full_clean()
    assert "non-public" in caught.value.message_dict["base_url"][0]
    channel.base_url = "http://127.0.0.1:8001"
    with pytest.raises(ValidationError):
        channel.full_clean()
    settings.PROVIDER_URL_ALLOW_PRIVATE = True  # the local demo: the simulator on loopback
    channel.full_clean()


def test_a_stored_disallowed_name_reads_as_no_secret(settings):
    settings.SECRET_KEY = "the-real-secret-key"
    channel = ChannelFactory()
    Channel.objects.filter(pk=channel.pk).update(token_setting="SECRET_KEY")
    channel.refresh_from_db()
    assert channel.secret("SECRET_KEY") == ""
    with pytest.raises(ChannelMisconfigured, match="token_setting: SECRET_KEY is not"):
        provider_for_channel(channel)


def test_a_channel_with_a_private_base_url_is_not_used_in_production(settings):
    settings.PROVIDER_URL_ALLOW_PRIVATE = False
    channel = ChannelFactory()
    Channel.objects.filter(pk=channel.pk).update(base_url="http://10.0.0.5/")
    channel.refresh_from_db()
    with pytest.raises(ChannelMisconfigured, match="base_url"):
        provider_for_channel(channel)


def test_dispatch_pauses_a_misconfigured_channel_and_sends_nothing(settings, simulator):
    """The attacker's server (here the simulator) must never receive the secret key."""
    from messaging.sending.dispatch import send_batch_run

    settings.SECRET_KEY = "the-real-secret-key"
    channel = ChannelFactory(base_url=simulator.url)
    Channel.objects.filter(pk=channel.pk).update(token_setting="SECRET_KEY")
    contact = ContactFactory()
    window_open(contact, channel)
    message = MessageFactory(channel=channel, contact=contact, status=Status.QUEUED)
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    channel.refresh_from_db()
    assert "token_setting: SECRET_KEY is not a channel secret setting" in channel.paused_reason
    assert Message.objects.get(pk=message.pk).status == Status.QUEUED  # waits, unsent
    assert simulator.attempts() == []


def test_the_data_migration_pauses_channels_stored_with_disallowed_names():
    good = ChannelFactory(phone_number_id="pn-good")
    bad = ChannelFactory(phone_number_id="pn-bad")
    Channel.objects.filter(pk=bad.pk).update(app_secret_setting="LANGUAGE_CODE")
    migration = import_module("messaging.migrations.0028_channel_pause_disallowed_secret_settings")
    migration.pause_disallowed(apps, None)
    bad.refresh_from_db()
    good.refresh_from_db()
    assert "app_secret_setting: LANGUAGE_CODE is not" in bad.paused_reason
    assert good.paused_reason == ""


def test_the_admin_refuses_a_disallowed_setting_name_and_a_private_base_url(
    client, make_user, settings
):
    settings.PROVIDER_URL_ALLOW_PRIVATE = False
    client.force_login(make_user("Admin"))
    response = client.post(
        "/admin/messaging/channel/add/",
        {
            "name": "Attacker",
            "provider": "meta_cloud",
            "is_active": "on",
            "phone_number_id": "pn-evil",
            "base_url": "http://127.0.0.1:9/",
            "throughput_mps": "80",
            "token_setting": "SECRET_KEY",
            "app_secret_setting": "LANGUAGE_CODE",
            "company_id_setting": "",
        },
    )
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert set(errors) >= {"token_setting", "app_secret_setting", "base_url"}
    assert not Channel.objects.filter(phone_number_id="pn-evil").exists()


def test_the_admin_flags_a_stored_disallowed_name(client, make_user):
    channel = ChannelFactory()
    Channel.objects.filter(pk=channel.pk).update(token_setting="SECRET_KEY")
    client.force_login(make_user("Admin"))
    page = client.get(f"/admin/messaging/channel/{channel.pk}/change/")
    assert b"SECRET_KEY: NOT ALLOWED (read as empty)" in page.content
