"""messaging.channels.selectors: the channel a request means and the templates one may send."""

import pytest
from django.core.management import CommandError, call_command

from messaging.channels.selectors import (
    ChannelUnknown,
    channel_for,
    channels_active,
    template_unsendable_reason,
    templates_sendable,
)
from messaging.models import TemplateStatus
from tests.factories import ChannelFactory, TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def main():
    return ChannelFactory(name="Main", phone_number_id="111")


@pytest.fixture
def switched_off():
    return ChannelFactory(name="Old", phone_number_id="999", is_active=False)


# --- Channels ------------------------------------------------------------------------------------


def test_active_channels_leave_out_switched_off_ones(main, switched_off):
    paused = ChannelFactory(name="Paused", phone_number_id="222", paused_reason="token expired")
    assert set(channels_active()) == {main, paused}


def test_the_only_active_channel_needs_no_name(main, switched_off):
    assert channel_for() == main


def test_a_named_channel(main):
    other = ChannelFactory(name="Other", phone_number_id="333")
    assert channel_for(phone_number_id="333") == other
    assert channel_for(phone_number_id="111") == main


def test_several_active_channels_need_a_name(main):
    ChannelFactory(name="Other", phone_number_id="333")
    with pytest.raises(ChannelUnknown) as exc:
        channel_for()
    assert exc.value.code == "channel_unknown"
    assert exc.value.message == "Several channels exist: name one by phone_number_id."


def test_no_active_channel(switched_off):
    with pytest.raises(ChannelUnknown) as exc:
        channel_for()
    assert exc.value.message == "No active channel is configured."


@pytest.mark.parametrize("name", ["999", "nope"])
def test_a_named_channel_must_exist_and_be_active(main, switched_off, name):
    with pytest.raises(ChannelUnknown) as exc:
        channel_for(phone_number_id=name)
    assert exc.value.message == f"No active channel with phone_number_id {name!r}."
    assert exc.value.details == {"channel": name}


def test_sync_templates_names_its_channel_through_the_selector(switched_off):
    with pytest.raises(CommandError, match="No active channel with phone_number_id '999'"):
        call_command("sync_templates", channel="999")


# --- Templates -----------------------------------------------------------------------------------


def test_only_approved_templates_on_active_channels_are_sendable(main, switched_off):
    approved = TemplateFactory(channel=main, name="a_ok")
    unsendable = [
        TemplateFactory(channel=main, name=f"b_{status.lower()}", status=status)
        for status in TemplateStatus.values
        if status != TemplateStatus.APPROVED
    ]
    on_inactive = TemplateFactory(channel=switched_off, name="c_old")
    assert list(templates_sendable()) == [approved]
    assert template_unsendable_reason(approved) is None
    for template in [*unsendable, on_inactive]:
        assert template_unsendable_reason(template) is not None, template.status


def test_paused_and_disabled_templates_say_why(main):
    for status in ("PAUSED", "DISABLED", "PENDING"):
        template = TemplateFactory(channel=main, name=f"t_{status.lower()}", status=status)
        assert template_unsendable_reason(template) == (
            f"Template {template.name!r} [en] is {status}, not APPROVED."
        )


def test_a_template_on_a_switched_off_channel_says_why(switched_off):
    template = TemplateFactory(channel=switched_off, name="old")
    assert template_unsendable_reason(template) == (
        "Template 'old' is on channel Old, which is inactive."
    )


def test_templates_of_one_channel_and_category(main):
    other = ChannelFactory(name="Other", phone_number_id="333")
    utility = TemplateFactory(channel=main, name="receipt", category="UTILITY")
    marketing = TemplateFactory(channel=main, name="sale", category="MARKETING")
    TemplateFactory(channel=other, name="elsewhere")
    assert list(templates_sendable(channel=main)) == [utility, marketing]
    assert list(templates_sendable(channel=main.pk)) == [utility, marketing]
    assert list(templates_sendable(channel=main, category="MARKETING")) == [marketing]


def test_sendable_templates_come_with_their_channel(main, django_assert_num_queries):
    TemplateFactory.create_batch(3, channel=main)
    with django_assert_num_queries(1):
        assert all(template_unsendable_reason(t) is None for t in templates_sendable())
