"""Recognising an erased person's identifiers: the one home of "is this number known to have
opted out".

Erasure (`crm.services.contact_erase`) keeps the contact row as a pseudonymous record holding
the consent history and keyed hashes of the identifiers it had (HMAC-SHA256, keyed by
ERASURE_HASH_KEY, else a key derived from SECRET_KEY). Whenever a contact is created, renumbered
or imported, the paths that write it ask here whether an erased record that opted out holds
the same identifier; if so the contact starts opted out (`contact_erased_opt_out_apply`, the
import writer), so marketing cannot reach a number that said stop, even after erasure.

Keep the key stable: another key makes every hash unrecognisable (the records stay, but stop
matching).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db.models import Q
from django.utils.crypto import salted_hmac

from crm.models import Consent, Contact

KEY_SALT = "parley.crm.erasure"


def identity_hash(kind: str, value: str) -> str:
    """The keyed hash of one identifier (`kind`: phone in E.164, wa_id, bsuid)."""
    secret = settings.ERASURE_HASH_KEY or settings.SECRET_KEY
    return salted_hmac(KEY_SALT, f"{kind}:{value}", secret=secret, algorithm="sha256").hexdigest()


def identity_hashes(
    *, phone: str | None = None, wa_id: str | None = None, bsuid: str | None = None
) -> dict[str, str]:
    """{field: hash} for the identifiers given (`phone_hash`, `wa_id_hash`, `bsuid_hash`)."""
    hashes = {}
    if phone:
        hashes["phone_hash"] = identity_hash("phone", phone)
    if wa_id:
        hashes["wa_id_hash"] = identity_hash("wa_id", wa_id)
    if bsuid:
        hashes["bsuid_hash"] = identity_hash("bsuid", bsuid)
    return hashes


def erased_opt_out_find(
    *, phone: str | None = None, wa_id: str | None = None, bsuid: str | None = None
) -> Contact | None:
    """The erased record that opted out and had one of these identifiers (E.164 phone, WhatsApp
    id, BSUID), most recently erased first; None when the person is not known to have opted
    out. Callers pass the phone a WhatsApp id spells as `phone` when they have no other."""
    hashes = identity_hashes(phone=phone, wa_id=wa_id, bsuid=bsuid)
    if not hashes:
        return None
    query = Q()
    for field, digest in hashes.items():
        query |= Q(**{field: digest})
    return (
        Contact.objects.filter(query, erased_at__isnull=False, consent=Consent.OPTED_OUT)
        .order_by("-erased_at", "-pk")
        .first()
    )


def erased_opt_outs(phones: Iterable[str]) -> dict[str, int]:
    """{E.164 phone: id of the erased record that opted out} for those of `phones` known to
    have opted out, in one query (imports ask this once per batch)."""
    by_hash = {identity_hash("phone", phone): phone for phone in phones}
    if not by_hash:
        return {}
    found: dict[str, int] = {}
    rows = (
        Contact.objects.filter(
            phone_hash__in=list(by_hash), erased_at__isnull=False, consent=Consent.OPTED_OUT
        )
        .order_by("erased_at", "pk")
        .values_list("phone_hash", "pk")
    )
    for digest, pk in rows:  # the latest erasure wins
        found[by_hash[digest]] = pk
    return found
