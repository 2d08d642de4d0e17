"""Merging duplicates: everything moves to the kept contact in one transaction."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError
from crm.models import Advisor, ConsentEvent, Contact
from crm.services import consent_set, contact_merge
from messaging.models import Conversation, Message
from tests.factories import (
    AdvisorFactory,
    ChannelFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


def test_merge_moves_messages_conversations_tags_attributes_and_events():
    now = timezone.now()
    main, other = ChannelFactory(), ChannelFactory(phone_number_id="222", name="Second")
    keep = ContactFactory(name="Asha", attributes={"city": "Pune"}, last_inbound_at=now,
                          unread_count=1, consent="unknown")  # fmt: skip
    dup = ContactFactory(
        name="", profile_name="Asha P", bsuid="BS1", attributes={"city": "Goa", "plan": "pro"},
        last_inbound_at=now + timedelta(hours=1), unread_count=2, consent="unknown",
    )  # fmt: skip
    keep.tags.add(TagFactory(name="vip"))
    dup.tags.add(TagFactory(name="newsletter"), TagFactory(name="vip"))
    keep_conv = ConversationFactory(contact=keep, channel=main)
    dup_conv_same = ConversationFactory(contact=dup, channel=main)  # collides with keep_conv
    dup_conv_other = ConversationFactory(contact=dup, channel=other)
    m1 = MessageFactory(contact=dup, channel=main, conversation=dup_conv_same)
    m2 = MessageFactory(contact=dup, channel=other, conversation=dup_conv_other)
    m3 = MessageFactory(contact=keep, channel=main, conversation=keep_conv)
    consent_set(contact=dup, consent="opted_in", source="api")

    kept = contact_merge(keep=keep, duplicate=dup)

    assert not Contact.objects.filter(pk=dup.pk).exists()
    assert set(Message.objects.values_list("contact_id", flat=True)) == {keep.pk}
    assert Message.objects.get(pk=m1.pk).conversation_id == keep_conv.pk  # absorbed
    assert Message.objects.get(pk=m2.pk).conversation_id == dup_conv_other.pk
    assert Message.objects.get(pk=m3.pk).conversation_id == keep_conv.pk
    assert set(Conversation.objects.values_list("pk", "contact_id")) == {
        (keep_conv.pk, keep.pk), (dup_conv_other.pk, keep.pk),
    }  # fmt: skip
    assert not Conversation.objects.filter(pk=dup_conv_same.pk).exists()
    assert sorted(kept.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    assert kept.attributes == {"city": "Pune", "plan": "pro"}  # kept contact wins
    assert (kept.name, kept.profile_name, kept.bsuid) == ("Asha", "Asha P", "BS1")
    assert kept.last_inbound_at == now + timedelta(hours=1) and kept.unread_count == 3
    assert ConsentEvent.objects.filter(contact=kept, source="api").count() == 1
    assert ConsentEvent.objects.filter(contact=kept, source="merge").count() == 1
    assert kept.consent == "opted_in"


def test_the_kept_advisor_profile_wins_and_a_lone_one_moves():
    keep, dup = ContactFactory(), ContactFactory()
    AdvisorFactory(contact=keep, firm="Kept")
    AdvisorFactory(contact=dup, firm="Dropped")
    contact_merge(keep=keep, duplicate=dup)
    assert list(Advisor.objects.values_list("contact_id", "firm")) == [(keep.pk, "Kept")]

    keep2, dup2 = ContactFactory(), ContactFactory()
    AdvisorFactory(contact=dup2, firm="Moves")
    contact_merge(keep=keep2, duplicate=dup2)
    assert Advisor.objects.get(firm="Moves").contact_id == keep2.pk


def test_the_phone_of_a_duplicate_fills_a_contact_without_one():
    keep = ContactFactory(phone=None, wa_id=None, bsuid="BSUID-1")
    dup = ContactFactory(phone="+919812345678")
    kept = contact_merge(keep=keep, duplicate=dup)
    assert kept.phone == "+919812345678" and kept.wa_id == "919812345678"


def test_merge_is_all_or_nothing(monkeypatch):
    keep, dup = ContactFactory(), ContactFactory()
    MessageFactory(contact=dup)
    dup.tags.add(TagFactory(name="vip"))

    def broken(*args, **kwargs):
        raise IntegrityError("boom")

    monkeypatch.setattr("crm.models.Contact.save", broken)  # fails after everything moved
    with pytest.raises(IntegrityError):
        contact_merge(keep=keep, duplicate=dup)
    assert Contact.objects.filter(pk=dup.pk).exists()
    assert Message.objects.get().contact_id == dup.pk


def test_merging_a_contact_into_itself_is_refused():
    contact = ContactFactory()
    with pytest.raises(DomainError):
        contact_merge(keep=contact, duplicate=contact)


def test_the_staff_merge_page_reviews_then_merges(client, make_user):
    keep, dup = ContactFactory(name="Keep"), ContactFactory(name="Dup")
    client.force_login(make_user("Campaign manager"))
    url = reverse("crm:contact_merge", args=[keep.pk])
    review = client.get(url, {"duplicate": dup.phone})
    assert review.status_code == 200 and b"Merge and delete the duplicate" in review.content
    assert client.get(url, {"duplicate": "+919999999999"}).context["duplicate"] is None
    done = client.post(url, {"duplicate": dup.pk, "confirm": "1"})
    assert done.status_code == 302
    assert not Contact.objects.filter(pk=dup.pk).exists()


def test_the_admin_merge_action(client, make_user):
    keep, dup = ContactFactory(), ContactFactory()
    MessageFactory(contact=dup)
    client.force_login(make_user("Admin", is_superuser=True))
    changelist = reverse("admin:crm_contact_changelist")
    ask = client.post(changelist, {"action": "merge_two", "_selected_action": [keep.pk, dup.pk]})
    assert ask.status_code == 200 and b"Choose the contact to keep" in ask.content
    done = client.post(
        changelist,
        {"action": "merge_two", "_selected_action": [keep.pk, dup.pk], "keep": keep.pk},
    )
    assert done.status_code == 302
    assert list(Contact.objects.values_list("pk", flat=True)) == [keep.pk]
    assert Message.objects.get().contact_id == keep.pk
