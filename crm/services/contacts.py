"""Write paths over contacts, tags and consent."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from phonenumbers import PhoneMetadata, phonenumberutil

from core.errors import Conflict, DomainError
from crm.identity import erased_opt_out_find
from crm.models import Consent, ConsentEvent, ConsentSource, Contact, Tag
from crm.services.attributes import attributes_clean
from crm.signals import consent_changed, consent_recorded

TAG_SEPARATORS = re.compile(r"[;|]")
LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")
# What people write in spreadsheets for consent, mapped to our three values.
OPT_IN_WORDS = ("opted_in", "opt_in", "optin", "in", "yes", "y", "true", "1", "subscribed",
                "opted in", "opt in")  # fmt: skip
OPT_OUT_WORDS = ("opted_out", "opt_out", "optout", "out", "no", "n", "false", "0",
                 "unsubscribed", "opted out", "opt out")  # fmt: skip
CONSENT_WORDS = {
    **dict.fromkeys(OPT_IN_WORDS, Consent.OPTED_IN),
    **dict.fromkeys(OPT_OUT_WORDS, Consent.OPTED_OUT),
    "unknown": Consent.UNKNOWN,
}


class InvalidPhone(DomainError):
    code = "invalid_phone"


# Number types that make a number valid; mobile and fixed line first (the common ones).
_NUMBER_TYPES = ("mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost", "voip",
                 "personal_number", "pager", "uan", "voicemail")  # fmt: skip
_METADATA: dict[int, object] = {}


def _is_valid(number: phonenumbers.PhoneNumber) -> bool:
    """`phonenumbers.is_valid_number`, faster for country codes of a single region.

    The library tests every number type in a fixed order (mobile last) only to name the type;
    validity just needs one to match, so the common types go first. Codes shared by several
    regions (+1, +7, +44, ...) keep the library's own region resolution. A property test
    checks both agree.
    """
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(number.country_code, ())
    if len(regions) != 1:
        return phonenumbers.is_valid_number(number)
    metadata = _METADATA.get(number.country_code)
    if metadata is None:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(
            number.country_code, regions[0]
        )
        if metadata is None:
            return False
        _METADATA[number.country_code] = metadata
    nsn = phonenumbers.national_significant_number(number)
    matches = phonenumberutil._is_number_matching_desc
    if not matches(nsn, metadata.general_desc):
        return False
    return any(matches(nsn, getattr(metadata, kind)) for kind in _NUMBER_TYPES)


def _e164_fast(text: str) -> str | None:
    """`text` itself when it is already a valid E.164 number, checked without the full parser
    (imports spend most of their time here otherwise); None means "use the parser"."""
    digits = text[1:]
    if len(digits) > 15:
        return None
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            if not national:
                return None
            number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
            zeros = len(national) - len(national.lstrip("0"))
            if zeros:
                number.italian_leading_zero = True
                number.number_of_leading_zeros = zeros
            if not _is_valid(number):
                return None
            formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return text if formatted == text else None
    return None


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """E.164 for `raw` (national numbers read in `region`, default PHONE_DEFAULT_REGION).

    Raises InvalidPhone with the reason when the number cannot be a real phone number.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("Phone number is empty.")
    if text[0] == "+" and text[1:].isdigit():
        fast = _e164_fast(text)
        if fast is not None:
            return fast
    region = region or settings.PHONE_DEFAULT_REGION
    # WhatsApp ids are international numbers without the plus. A run of more than ten digits
    # is read that way first, then as a national number with a trunk prefix (09876543210);
    # ten digits or fewer are read as national first (9876543210), then as international.
    if text.isdigit():
        international = "+" + text
        candidates = [international, text] if len(text) > 10 else [text, international]
    else:
        candidates = [text]
    problem = None
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException as exc:
            problem = f"Not a phone number: {raw!r} ({exc})."
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        problem = problem or f"Not a valid phone number: {raw!r}."
    raise InvalidPhone(problem or f"Not a valid phone number: {raw!r}.")


def phone_spelled(wa_id: str) -> str | None:
    """The phone a WhatsApp id spells (E.164), or None when it is not one phonenumbers knows:
    contacts imported by phone have no wa_id until they write, so a wa_id is also read as a
    phone wherever a contact is looked up or renumbered by it."""
    try:
        return phone_normalize(wa_id)
    except InvalidPhone:
        return None


def contact_identity_record(
    *,
    contact: Contact | None,
    wa_id: str | None = None,
    phone: str | None = None,
    bsuid: str | None = None,
    profile_name: str = "",
) -> Contact:
    """Create the contact behind a WhatsApp identity (`contact` None), or fill in the
    identifiers `contact` lacks. Only `crm.selectors.contact_resolve(create=True)` calls it:
    finding the contact is the selector's rule, writing it is this service's.

    `phone` must already be E.164. Raises IntegrityError when a concurrent request recorded the
    same phone or BSUID first; the selector then looks again.
    """
    # WhatsApp's display names are short; anything longer is junk that must not stop the
    # message it came with (PostgreSQL enforces the column's length).
    profile_name = (profile_name or "")[: Contact._meta.get_field("profile_name").max_length]
    if contact is None:
        with transaction.atomic():
            contact = Contact.objects.create(
                wa_id=wa_id or (phone.lstrip("+") if phone else None), phone=phone or None,
                bsuid=bsuid or None, profile_name=profile_name,
            )  # fmt: skip
            contact_erased_opt_out_apply(contact=contact)
        return contact
    changed = []
    if wa_id and contact.wa_id != wa_id:
        contact.wa_id = wa_id
        changed.append("wa_id")
    if phone and not contact.phone:
        contact.phone = phone
        changed.append("phone")
    if bsuid and not contact.bsuid:
        contact.bsuid = bsuid
        changed.append("bsuid")
    if profile_name and contact.profile_name != profile_name:
        contact.profile_name = profile_name
        changed.append("profile_name")
    if changed:
        with transaction.atomic():
            contact.save(update_fields=[*changed, "updated_at"])
            if {"phone", "wa_id", "bsuid"} & set(changed):
                contact_erased_opt_out_apply(contact=contact)
    return contact


def contact_erased_opt_out_apply(*, contact: Contact) -> ConsentEvent | None:
    """Opt `contact` out when an erased record that opted out had one of its identifiers
    (`crm.identity.erased_opt_out_find`). Every path that creates a contact or gives it a new
    number calls this (imports do the same per batch in `crm.importing.writer`), so a number
    that said stop stays stopped after its contact was erased. Returns the consent event."""
    if contact.consent == Consent.OPTED_OUT or contact.erased_at is not None:
        return None
    wa_id = contact.wa_id
    erased = erased_opt_out_find(
        phone=contact.phone or (phone_spelled(wa_id) if wa_id else None),
        wa_id=wa_id,
        bsuid=contact.bsuid,
    )
    if erased is None:
        return None
    return consent_set(
        contact=contact, consent=Consent.OPTED_OUT, source=ConsentSource.ERASED,
        note=f"this number opted out as erased contact #{erased.pk}",
    )  # fmt: skip


def consent_set(
    *,
    contact: Contact,
    consent: str,
    source: str,
    actor=None,
    note: str = "",
    at=None,
) -> ConsentEvent | None:
    """Change marketing consent and record why. The only way consent changes.

    Returns the event, or None when the contact already had that consent (nothing to audit).
    """
    if consent not in Consent.values:
        raise DomainError(f"Unknown consent value {consent!r}.", code="invalid_consent")
    if source not in ConsentSource.values:
        raise DomainError(f"Unknown consent source {source!r}.", code="invalid_consent")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if locked.consent == consent:
            return None
        if locked.erased_at is not None:
            raise DomainError(
                "This contact was erased; its consent history is closed.", code="contact_erased"
            )
        event = ConsentEvent.objects.create(
            contact=locked,
            previous=locked.consent,
            consent=consent,
            source=source,
            actor=actor,
            note=note[:500],
            created_at=at or timezone.now(),
        )
        locked.consent = consent
        locked.consent_updated_at = event.created_at
        locked.save(update_fields=["consent", "consent_updated_at", "updated_at"])
        consent_recorded.send(sender=Contact, contact=locked, event=event)
    contact.consent = consent
    contact.consent_updated_at = event.created_at
    transaction.on_commit(lambda: consent_changed.send(sender=Contact, contact=locked, event=event))
    return event


# --- Small value cleaners shared by forms, the API and imports ---------------------------------


def consent_parse(raw: Any) -> str:
    """One of Consent's values for what a person or a file wrote; ValueError if unclear."""
    if isinstance(raw, bool):
        return Consent.OPTED_IN if raw else Consent.OPTED_OUT
    word = " ".join(str(raw).strip().lower().split())
    try:
        return CONSENT_WORDS[word]
    except KeyError:
        raise ValueError(
            f"not a consent value: {raw!r} (use opted_in, opted_out or unknown)"
        ) from None


def language_clean(raw: str) -> str:
    """A language code like `en`, `hi` or `en_US` (WhatsApp's template languages)."""
    text = (raw or "").strip()
    if text and not LANGUAGE_PATTERN.match(text):
        raise ValueError(f"not a language code: {raw!r} (like en, hi or en_US)")
    return text.replace("-", "_")


def tag_names_clean(raw: Any) -> list[str]:
    """Tag names from a list or a `;`/`|`-separated string: trimmed, lower-case, unique."""
    if raw is None or raw == "":
        return []
    parts = TAG_SEPARATORS.split(raw) if isinstance(raw, str) else list(raw)
    names: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise ValueError("tags must be text")
        name = " ".join(part.split()).lower()
        if not name:
            continue
        if len(name) > 64:
            raise ValueError(f"tag longer than 64 characters: {name[:20]}...")
        if name not in names:
            names.append(name)
    return names


def tags_get_or_create(names: Iterable[str]) -> list[Tag]:
    names = list(dict.fromkeys(names))
    if not names:
        return []
    Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=names))


# --- Contacts --------------------------------------------------------------------------------


def _phone_available(phone: str, *, exclude_pk: int | None = None) -> None:
    clash = Contact.objects.filter(phone=phone).exclude(pk=exclude_pk).values_list("pk", flat=True)
    if clash:
        raise Conflict(
            f"A contact with phone {phone} already exists.",
            code="contact_exists",
            details={"contact": clash[0], "phone": phone},
        )


def contact_create(
    *,
    phone: str | None = None,
    bsuid: str | None = None,
    name: str = "",
    language: str = "",
    tags: Iterable[str] = (),
    attributes: dict | None = None,
    consent: str | None = None,
    consent_source: str = ConsentSource.STAFF,
    consent_note: str = "",
    actor=None,
) -> Contact:
    """A new contact. Consent other than unknown is recorded through `consent_set`."""
    phone = phone_normalize(phone) if phone else None
    bsuid = (bsuid or "").strip() or None
    if not phone and not bsuid:
        raise DomainError("A contact needs a phone number or a BSUID.", code="invalid")
    try:
        language = language_clean(language)
    except ValueError as exc:
        raise DomainError(str(exc), code="invalid_language") from None
    attributes = attributes_clean(attributes or {})
    if phone:
        _phone_available(phone)
    with transaction.atomic():
        try:
            with transaction.atomic():
                contact = Contact.objects.create(
                    phone=phone, wa_id=phone.lstrip("+") if phone else None, bsuid=bsuid,
                    name=name.strip(), language=language, attributes=attributes,
                )  # fmt: skip
        except IntegrityError:
            raise Conflict(
                "A contact with this phone or BSUID already exists.", code="contact_exists"
            ) from None
        tag_objects = tags_get_or_create(tags)
        if tag_objects:
            contact.tags.add(*tag_objects)
        # A number known to have opted out (an erased contact's) starts opted out, whatever
        # the caller asked: only the person (START) or a later, explicit change opts it in.
        if contact_erased_opt_out_apply(contact=contact) is not None:
            return contact
        if consent and consent != Consent.UNKNOWN:
            consent_set(
                contact=contact, consent=consent, source=consent_source, actor=actor,
                note=consent_note or "set when the contact was created",
            )  # fmt: skip
    return contact


UPDATABLE_FIELDS = ("phone", "bsuid", "name", "language", "attributes", "pinned")


def contact_update(*, contact: Contact, actor=None, tags: Iterable[str] | None = None, **changes):
    """Change a contact's details. Consent is not among them (`consent_set`), nor blocking
    (`contact_block`). `tags` replaces the contact's tags; `attributes` replaces its
    attributes (validated against the definitions)."""
    if contact.erased_at is not None:
        raise DomainError("This contact was erased; it cannot be changed.", code="contact_erased")
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))} here.", code="invalid")
    if "phone" in changes:
        changes["phone"] = phone_normalize(changes["phone"]) if changes["phone"] else None
        if changes["phone"]:
            _phone_available(changes["phone"], exclude_pk=contact.pk)
            if not contact.wa_id or contact.phone != changes["phone"]:
                changes["wa_id"] = changes["phone"].lstrip("+")
    if "bsuid" in changes:
        changes["bsuid"] = (changes["bsuid"] or "").strip() or None
    if "language" in changes:
        try:
            changes["language"] = language_clean(changes["language"])
        except ValueError as exc:
            raise DomainError(str(exc), code="invalid_language") from None
    if "attributes" in changes:
        changes["attributes"] = attributes_clean(changes["attributes"])
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
    if not (changes.get("phone", contact.phone) or changes.get("bsuid", contact.bsuid)):
        raise DomainError("A contact needs a phone number or a BSUID.", code="invalid")
    with transaction.atomic():
        for field, value in changes.items():
            setattr(contact, field, value)
        if changes:
            try:
                with transaction.atomic():
                    contact.save(update_fields=[*changes, "updated_at"])
            except IntegrityError:
                raise Conflict(
                    "Another contact has this phone or BSUID.", code="contact_exists"
                ) from None
        if tags is not None:
            contact.tags.set(tags_get_or_create(tags))
        if "phone" in changes or "bsuid" in changes:
            contact_erased_opt_out_apply(contact=contact)
    return contact


def contact_block(*, contact: Contact, blocked: bool, actor=None) -> Contact:
    """Block (nothing is sent to them, ever) or unblock a contact."""
    if contact.blocked != blocked:
        contact.blocked = blocked
        contact.save(update_fields=["blocked", "updated_at"])
    return contact
