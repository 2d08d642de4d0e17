"""`contact_number_change`: a contact takes a new number, keeps the old one in its history, and
absorbs whoever already held the new one."""

import datetime as dt

import pytest
from django.utils import timezone

from core.errors import DomainError
from crm.models import Consent, ContactNumberChange, NumberChangeSource
from crm.selectors import contact_number_left, contact_resolve
from crm.services import InvalidPhone, consent_set, contact_number_change
from tests.factories import ContactFactory, TagFactory

pytestmark = pytest.mark.django_db

WHATSAPP = NumberChangeSource.WHATSAPP


def test_the_contact_takes_the_new_number_and_keeps_the_old_one_in_its_history():
    contact = ContactFactory(phone="+16505551234", consent=Consent.OPTED_IN)
    at = timezone.now() - dt.timedelta(minutes=5)
    changed = contact_number_change(
        contact=contact, new_phone=None, new_wa_id="12195555358", source=WHATSAPP, at=at,
        note="WhatsApp message wamid.X",
    )  # fmt: skip
    assert changed.pk == contact.pk
    assert (changed.phone, changed.wa_id) == ("+12195555358", "12195555358")
    assert (contact.phone, contact.wa_id) == ("+12195555358", "12195555358")  # caller's copy
    assert changed.consent == Consent.OPTED_IN
    (history,) = ContactNumberChange.objects.filter(contact=contact)
    assert (history.old_phone, history.old_wa_id) == ("+16505551234", "16505551234")
    assert (history.new_phone, history.new_wa_id) == ("+12195555358", "12195555358")
    assert history.source == WHATSAPP and history.changed_at == at
    assert history.merged_contact_ids == [] and history.note == "WhatsApp message wamid.X"
    # Found by the new number from now on, in any spelling.
    assert contact_resolve(wa_id="12195555358").pk == contact.pk
    assert contact_resolve(phone="+1 219 555 5358").pk == contact.pk


def test_a_contact_that_already_holds_the_new_number_is_merged_in():
    contact = ContactFactory(phone="+16505551234", name="Sheena", consent=Consent.OPTED_IN)
    consent_set(contact=contact, consent=Consent.OPTED_IN, source="staff")
    holder = ContactFactory(phone="+12195555358", consent=Consent.UNKNOWN, bsuid="US.9")
    holder.tags.add(TagFactory(name="vip"))
    changed = contact_number_change(
        contact=contact, new_phone=None, new_wa_id="12195555358", source=WHATSAPP
    )
    assert changed.pk == contact.pk
    assert not type(holder).objects.filter(pk=holder.pk).exists()
    assert (changed.phone, changed.wa_id, changed.bsuid) == ("+12195555358", "12195555358", "US.9")
    assert changed.name == "Sheena" and changed.consent == Consent.OPTED_IN
    assert list(changed.tags.values_list("name", flat=True)) == ["vip"]
    history = ContactNumberChange.objects.get(contact=contact)
    assert history.merged_contact_ids == [holder.pk]
    assert history.old_phone == "+16505551234"


def test_the_more_recent_consent_decision_survives_the_merge():
    contact = ContactFactory(phone="+16505551234", consent=Consent.UNKNOWN)
    consent_set(contact=contact, consent=Consent.OPTED_IN, source="staff")
    holder = ContactFactory(phone="+12195555358", consent=Consent.UNKNOWN)
    consent_set(contact=holder, consent=Consent.OPTED_OUT, source="keyword")  # later
    changed = contact_number_change(
        contact=contact, new_phone="+12195555358", new_wa_id=None, source=WHATSAPP
    )
    assert changed.consent == Consent.OPTED_OUT
    assert changed.wa_id == "12195555358"


def test_the_same_change_twice_is_recorded_once():
    contact = ContactFactory(phone="+16505551234")
    for _ in range(2):
        contact_number_change(
            contact=contact, new_phone=None, new_wa_id="12195555358", source=WHATSAPP
        )
    assert ContactNumberChange.objects.filter(contact=contact).count() == 1


def test_a_whatsapp_id_that_is_no_phone_number_leaves_no_phone():
    contact = ContactFactory(phone=None, wa_id="972987654321")
    changed = contact_number_change(
        contact=contact, new_phone=None, new_wa_id="972912345678", source=WHATSAPP
    )
    assert (changed.phone, changed.wa_id) == (None, "972912345678")
    history = ContactNumberChange.objects.get(contact=contact)
    assert (history.old_wa_id, history.new_phone) == ("972987654321", "")


def test_bad_input_is_refused():
    contact = ContactFactory(phone="+16505551234")
    with pytest.raises(InvalidPhone):
        contact_number_change(contact=contact, new_phone="12", new_wa_id=None, source=WHATSAPP)
    with pytest.raises(DomainError):
        contact_number_change(contact=contact, new_phone=None, new_wa_id=" ", source=WHATSAPP)
    with pytest.raises(DomainError):
        contact_number_change(contact=contact, new_phone=None, new_wa_id="1219", source="fax")
    assert not ContactNumberChange.objects.exists()


def test_history_rows_are_append_only():
    contact = ContactFactory(phone="+16505551234")
    contact_number_change(contact=contact, new_phone=None, new_wa_id="12195555358", source=WHATSAPP)
    row = ContactNumberChange.objects.get()
    row.note = "rewritten"
    with pytest.raises(ValueError):
        row.save()


def test_the_contact_that_left_a_number_is_found_for_what_it_sent_before():
    contact = ContactFactory(phone="+16505551234")
    at = timezone.now() - dt.timedelta(hours=1)
    contact_number_change(
        contact=contact, new_phone=None, new_wa_id="12195555358", source=WHATSAPP, at=at
    )
    earlier = at - dt.timedelta(minutes=1)
    assert contact_number_left(wa_id="16505551234", before=earlier).pk == contact.pk
    assert contact_number_left(wa_id="16505551234", before=at + dt.timedelta(seconds=1)) is None
    assert contact_number_left(wa_id="19999999999", before=earlier) is None


def test_the_contact_page_lists_earlier_numbers(client, make_user):
    from django.urls import reverse

    contact = ContactFactory(phone="+16505551234")
    holder = ContactFactory(phone="+12195555358")
    url = reverse("crm:contact_detail", args=[contact.pk])
    client.force_login(make_user("Campaign manager"))
    assert b'data-testid="number-history"' not in client.get(url).content
    contact_number_change(contact=contact, new_phone=None, new_wa_id="12195555358", source=WHATSAPP)
    html = client.get(url).content.decode()
    assert 'data-testid="number-history"' in html
    assert "+16505551234" in html and "+12195555358" in html and f"#{holder.pk}" in html
    # Who may not see the contact does not see its numbers either.
    client.force_login(make_user())
    assert client.get(url).status_code == 403
