"""crm.selectors.contact_resolve: every way a request names a contact, and its errors."""

import pytest
from django.db import IntegrityError

from crm.models import Contact
from crm.selectors import ContactUnresolved, contact_resolve, contacts_resolve
from crm.services import InvalidPhone
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PHONE = "+919812345678"


@pytest.fixture
def asha():
    return ContactFactory(phone=PHONE, name="Asha")


@pytest.mark.parametrize(
    "written", [PHONE, "919812345678", "98123 45678", "098123-45678", "+91 98123 45678"]
)
def test_a_phone_in_any_format(asha, written, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert contact_resolve(phone=written) == asha


def test_a_whatsapp_id(asha):
    assert contact_resolve(wa_id="919812345678") == asha


def test_a_whatsapp_id_finds_a_contact_imported_by_phone():
    imported = ContactFactory(phone=PHONE, wa_id=None)
    assert contact_resolve(wa_id="919812345678") == imported


def test_a_whatsapp_id_is_matched_before_the_phone_it_spells():
    by_phone = ContactFactory(phone=PHONE, wa_id=None)
    by_wa_id = ContactFactory(phone=None, wa_id="919812345678", bsuid="IN.1")
    assert contact_resolve(wa_id="919812345678") == by_wa_id != by_phone


def test_a_bsuid():
    hidden = ContactFactory(phone=None, wa_id=None, bsuid="IN.13491208655302741918")
    assert contact_resolve(bsuid="IN.13491208655302741918") == hidden


def test_an_id(asha):
    assert contact_resolve(contact_id=asha.pk) == asha


def test_identifiers_of_the_same_contact_agree(asha):
    assert contact_resolve(contact_id=asha.pk, phone="9812345678") == asha


def test_identifiers_of_different_contacts_are_ambiguous(asha):
    other = ContactFactory()
    with pytest.raises(ContactUnresolved) as exc:
        contact_resolve(contact_id=other.pk, phone=PHONE)
    assert exc.value.code == "contact_ambiguous"
    assert exc.value.details == {"contacts": sorted([asha.pk, other.pk])}
    assert str(asha.pk) in exc.value.message and str(other.pk) in exc.value.message


@pytest.mark.parametrize(
    ("kwargs", "message", "details"),
    [
        (
            {"phone": "+14155550100"},
            "No contact with phone +14155550100: create the contact first.",
            {"phone": "+14155550100"},
        ),
        (
            {"wa_id": "14155550100"},
            "No contact with WhatsApp id 14155550100 or phone +14155550100: create the "
            "contact first.",
            {"wa_id": "14155550100", "phone": "+14155550100"},
        ),
        (
            {"bsuid": "US.1"},
            "No contact with BSUID US.1: create the contact first.",
            {"bsuid": "US.1"},
        ),
        ({"contact_id": 999_999}, "No contact with id 999999.", {"contact": 999_999}),
    ],
)
def test_nobody_named_is_one_clear_error(asha, kwargs, message, details):
    with pytest.raises(ContactUnresolved) as exc:
        contact_resolve(**kwargs)
    assert (exc.value.code, exc.value.status_code) == ("contact_unknown", 400)
    assert exc.value.message == message
    assert exc.value.details == details


@pytest.mark.parametrize("contact_id", [0, -3, 2**64, "abc"])
def test_ids_no_column_holds_name_nobody(contact_id):
    with pytest.raises(ContactUnresolved):
        contact_resolve(contact_id=contact_id)


def test_a_phone_that_cannot_be_one_is_invalid_phone():
    with pytest.raises(InvalidPhone) as exc:
        contact_resolve(phone="12")
    assert exc.value.code == "invalid_phone"


def test_naming_nothing_is_an_error():
    with pytest.raises(ContactUnresolved):
        contact_resolve(wa_id=" ", bsuid="")


def test_resolving_never_writes(asha):
    with pytest.raises(ContactUnresolved):
        contact_resolve(bsuid="IN.new")
    assert Contact.objects.count() == 1


# --- create=True: a WhatsApp identity ------------------------------------------------------------


def test_create_makes_the_contact_of_a_new_identity():
    contact = contact_resolve(wa_id="919812345678", create=True, profile_name="Asha")
    assert (contact.phone, contact.wa_id, contact.profile_name) == (PHONE, "919812345678", "Asha")
    assert contact_resolve(wa_id="919812345678", create=True) == contact
    assert Contact.objects.count() == 1


def test_create_by_bsuid_alone():
    contact = contact_resolve(bsuid="US.42", create=True)
    assert (contact.bsuid, contact.phone, contact.wa_id) == ("US.42", None, None)


def test_create_fills_in_what_the_contact_lacked():
    imported = ContactFactory(phone=PHONE, wa_id=None, profile_name="")
    contact = contact_resolve(
        wa_id="919812345678", bsuid="IN.7", create=True, profile_name="Asha K"
    )
    assert contact == imported
    imported.refresh_from_db()
    assert (imported.wa_id, imported.bsuid, imported.profile_name) == (
        "919812345678",
        "IN.7",
        "Asha K",
    )


def test_create_takes_the_first_match_wa_id_then_phone_then_bsuid():
    by_bsuid = ContactFactory(phone=None, wa_id=None, bsuid="IN.9")
    by_wa_id = ContactFactory(phone="+919800000009", wa_id="919812345678", bsuid="IN.8")
    assert contact_resolve(wa_id="919812345678", bsuid="IN.9", create=True) == by_wa_id
    assert contact_resolve(bsuid="IN.9", create=True) == by_bsuid


def test_create_truncates_junk_profile_names():
    contact = contact_resolve(wa_id="919812345678", create=True, profile_name="x" * 500)
    assert len(contact.profile_name) == Contact._meta.get_field("profile_name").max_length


def test_create_looks_again_when_a_concurrent_request_created_first(monkeypatch):
    from crm import selectors

    record = selectors.contact_identity_record
    calls = []

    def racing(**kwargs):
        calls.append(kwargs["contact"])
        if len(calls) == 1:  # the other webhook commits the same user just before us
            Contact.objects.create(phone=PHONE, wa_id="919812345678")
            raise IntegrityError("contact_phone_unique")
        return record(**kwargs)

    monkeypatch.setattr(selectors, "contact_identity_record", racing)
    contact = contact_resolve(wa_id="919812345678", create=True)
    assert calls[0] is None and calls[1] == contact
    assert Contact.objects.count() == 1


def test_create_cannot_take_an_id(asha):
    with pytest.raises(ValueError, match="contact id"):
        contact_resolve(contact_id=asha.pk, create=True)


# --- Many phones at once (bulk sends) ------------------------------------------------------------


def test_many_phones_in_one_query(asha, django_assert_num_queries):
    other = ContactFactory()
    with django_assert_num_queries(1):
        resolved = contacts_resolve(
            phones=["98123 45678", "not a phone", "+14155550123", other.phone]
        )
    assert resolved[0] == asha and resolved[3] == other
    assert isinstance(resolved[1], InvalidPhone)
    assert isinstance(resolved[2], ContactUnresolved)
    assert resolved[2].message == contact_unknown_message("+14155550123")


def contact_unknown_message(phone):
    with pytest.raises(ContactUnresolved) as exc:
        contact_resolve(phone=phone)
    return exc.value.message


def test_create_never_moves_an_identifier_another_contact_holds():
    """wa_id names one contact and the BSUID another: a duplicate for staff to merge, not for a
    webhook to resolve by stealing the BSUID (the unique constraint refuses, nothing changes)."""
    ContactFactory(phone=None, wa_id=None, bsuid="IN.9")
    by_wa_id = ContactFactory(phone="+919800000009", wa_id="919812345678", bsuid=None)
    with pytest.raises(IntegrityError):
        contact_resolve(wa_id="919812345678", bsuid="IN.9", create=True)
    by_wa_id.refresh_from_db()
    assert by_wa_id.bsuid is None
