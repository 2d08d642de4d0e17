"""Write paths over advisors: add (creating or linking the contact by phone), change,
disable with a reason, enable again."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, DomainError
from crm.models import Advisor, AdvisorTier, Contact
from crm.services.contacts import contact_create, contact_update, phone_normalize

CATEGORY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ADVISOR_FIELDS = ("firm", "region", "tier", "content_preferences", "onboarded_on")


class AdvisorInvalid(DomainError):
    code = "invalid_advisor"


def content_preferences_clean(raw: Any) -> list[str]:
    """Category slugs from a list or a `;`/`|`/`,`-separated string."""
    if raw in (None, ""):
        return []
    parts = re.split(r"[;|,]", raw) if isinstance(raw, str) else raw
    if not isinstance(parts, list | tuple):
        raise ValueError("content preferences must be a list of categories")
    out: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise ValueError("content preferences must be text")
        slug = "-".join(part.strip().lower().split())
        if not slug:
            continue
        if not CATEGORY_PATTERN.match(slug):
            raise ValueError(f"not a category name: {part!r}")
        if slug not in out:
            out.append(slug)
    return out


def tier_clean(raw: Any) -> str:
    value = str(raw or "").strip().lower()
    if value not in AdvisorTier.values:
        raise ValueError(f"not a tier: {raw!r} (use {', '.join(AdvisorTier.values)})")
    return value


def onboarded_on_clean(raw: Any) -> date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValueError(f"not a date: {raw!r} (use YYYY-MM-DD)") from None


def _fields_clean(data: dict) -> dict:
    clean: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for field, cleaner in (
        ("firm", lambda v: str(v or "").strip()[:200]),
        ("region", lambda v: str(v or "").strip()[:100]),
        ("tier", tier_clean),
        ("content_preferences", content_preferences_clean),
        ("onboarded_on", onboarded_on_clean),
    ):
        if field in data:
            try:
                clean[field] = cleaner(data[field])
            except ValueError as exc:
                problems[field] = str(exc)
    if problems:
        raise AdvisorInvalid("Invalid advisor fields.", details=problems)
    return clean


def advisor_create(
    *, phone: str, name: str = "", actor=None, contact_fields: dict | None = None, **fields
) -> Advisor:
    """Make the contact with this phone an advisor, creating the contact if needed."""
    clean = _fields_clean(fields)
    phone = phone_normalize(phone)
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(phone=phone).first()
        if contact is None:
            contact = contact_create(phone=phone, name=name, actor=actor, **(contact_fields or {}))
        elif name and not contact.name:
            contact_update(contact=contact, name=name, actor=actor)
        if Advisor.objects.filter(contact=contact).exists():
            raise Conflict(
                f"{contact} is already an advisor.",
                code="advisor_exists",
                details={"advisor": contact.advisor.pk},
            )
        clean.setdefault("onboarded_on", timezone.localdate())
        return Advisor.objects.create(contact=contact, **clean)


def advisor_update(*, advisor: Advisor, actor=None, **fields) -> Advisor:
    unknown = set(fields) - set(ADVISOR_FIELDS)
    if unknown:
        raise AdvisorInvalid(f"Cannot change {', '.join(sorted(unknown))} here.")
    clean = _fields_clean(fields)
    for field, value in clean.items():
        setattr(advisor, field, value)
    if clean:
        advisor.save(update_fields=[*clean, "updated_at"])
    return advisor


def advisor_disable(*, advisor: Advisor, reason: str, actor=None) -> Advisor:
    """Stop sending content to an advisor; the reason is required and kept."""
    reason = (reason or "").strip()
    if not reason:
        raise AdvisorInvalid("Say why the advisor is disabled.", details={"reason": ["Required."]})
    advisor.is_active = False
    advisor.disabled_reason = reason[:300]
    advisor.disabled_at = timezone.now()
    advisor.disabled_by = actor if getattr(actor, "pk", None) else None
    advisor.save(
        update_fields=["is_active", "disabled_reason", "disabled_at", "disabled_by", "updated_at"]
    )
    return advisor


def advisor_enable(*, advisor: Advisor, actor=None) -> Advisor:
    advisor.is_active = True
    advisor.disabled_reason = ""
    advisor.disabled_at = None
    advisor.disabled_by = None
    advisor.save(
        update_fields=["is_active", "disabled_reason", "disabled_at", "disabled_by", "updated_at"]
    )
    return advisor
