"""Content for advisors: the review workflow, readiness rules and figures.

Workflow: `draft -> pending_review -> approved | rejected -> scheduled -> distributed`. Every
change takes the item's row lock, checks the transition table and records a
`ContentTransition`. Editing a rejected, approved or scheduled item sends it back to draft
(it must be reviewed again); a rejected item can also be resubmitted as it is. An author (or
the person who submitted it) never approves their own item.

Distribution lives in `content_distribution`, Click-to-Unlock in `content_unlock`.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.errors import DomainError, InvalidTransition
from core.ssrf import UnsafeUrl, url_check_public
from messaging.channels.selectors import template_unsendable_reason
from messaging.models import (
    ContentDelivery,
    ContentItem,
    ContentState,
    ContentTarget,
    ContentTransition,
    ContentUnlock,
    LinkClick,
    MessageTemplate,
    Status,
    UnlockKind,
)

logger = logging.getLogger(__name__)

S = ContentState
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.PENDING_REVIEW},
    S.PENDING_REVIEW: {S.APPROVED, S.REJECTED, S.DRAFT},
    S.REJECTED: {S.DRAFT, S.PENDING_REVIEW},
    S.APPROVED: {S.SCHEDULED, S.DISTRIBUTED, S.DRAFT},
    S.SCHEDULED: {S.APPROVED, S.DISTRIBUTED, S.DRAFT},
    S.DISTRIBUTED: set(),
}
# Editing these sends the item back to draft; pending_review must be withdrawn first.
EDITABLE = (S.DRAFT, S.REJECTED, S.APPROVED, S.SCHEDULED)
DUE = (S.APPROVED, S.SCHEDULED)
EDITABLE_FIELDS = (
    "title", "body", "media_url", "category", "target", "target_tier", "target_region",
    "target_segment", "send_on", "template", "unlock_buttons",
)  # fmt: skip
SHARE_SUMMARY_CHARS = 300
# Named template parameters are filled by meaning; positional ones in this order.
NAME_KEYS = {"name", "first_name", "advisor", "advisor_name", "customer_name"}
TITLE_KEYS = {"title", "topic", "headline", "content", "content_title", "insight"}


class ContentNotReady(DomainError):
    code = "content_not_ready"
    status_code = 422


class SelfApproval(DomainError):
    code = "self_approval"
    status_code = 403


# --- Readiness ---------------------------------------------------------------------------------


def quick_reply_buttons(template: MessageTemplate | None) -> list[tuple[str, str]]:
    """(index, text) of the template's quick-reply buttons, in order."""
    if template is None:
        return []
    for component in template.components or []:
        if str(component.get("type", "")).upper() != "BUTTONS":
            continue
        return [
            (str(i), str(button.get("text", "")))
            for i, button in enumerate(component.get("buttons") or [])
            if str(button.get("type", "")).upper() == "QUICK_REPLY"
        ]
    return []


def header_format(template: MessageTemplate) -> str:
    for component in template.components or []:
        if str(component.get("type", "")).upper() == "HEADER":
            return str(component.get("format", "TEXT")).upper()
    return ""


def unlock_buttons_clean(raw: Any) -> list[dict[str, str]]:
    """`[{"kind": ..., "title": ...}]`; raises ContentNotReady on an unknown kind."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise ContentNotReady("Unlock buttons must be a list of {kind, title}.")
    cleaned = []
    for item in raw:
        kind = str((item or {}).get("kind", "")).strip().upper()
        if kind not in UnlockKind.values:
            raise ContentNotReady(
                f"Unknown unlock button kind {kind!r}; use one of {', '.join(UnlockKind.values)}."
            )
        cleaned.append({"kind": kind, "title": str(item.get("title") or "").strip()[:20]})
    return cleaned


def content_problems(item: ContentItem) -> list[str]:
    """What stops `item` from being submitted, approved or distributed (empty: ready)."""
    problems = []
    if not item.title.strip() or not item.body.strip():
        problems.append("Give a title and a body.")
    if item.send_on is None:
        problems.append("Choose the date it goes out.")
    if item.target == ContentTarget.TIER and not item.target_tier:
        problems.append("Choose the tier.")
    if item.target == ContentTarget.REGION and not item.target_region.strip():
        problems.append("Name the region.")
    if item.target == ContentTarget.SEGMENT and not item.target_segment_id:
        problems.append("Choose the segment.")
    if item.media_url:
        try:
            url_check_public(item.media_url)
        except UnsafeUrl as exc:
            problems.append(f"Media link refused: {exc.message}")
    template = item.template
    if template is None:
        problems.append("Choose the template that announces it.")
        return problems
    unsendable = template_unsendable_reason(template)
    if unsendable:
        problems.append(unsendable)
    channel = template.channel
    if not channel.is_active or channel.paused_reason:
        problems.append(f"Channel {channel.name} is not sending.")
    buttons = quick_reply_buttons(template)
    try:
        unlock = unlock_buttons_clean(item.unlock_buttons)
    except ContentNotReady as exc:
        unlock = []
        problems.append(exc.message)
    if not buttons:
        problems.append(f"Template {template.name} has no quick-reply buttons to unlock with.")
    elif not unlock:
        problems.append("Choose what at least one button unlocks.")
    elif len(unlock) > len(buttons):
        problems.append(
            f"Template {template.name} has {len(buttons)} quick-reply button(s), not {len(unlock)}."
        )
    if header_format(template) in {"IMAGE", "VIDEO", "DOCUMENT"} and not item.media_url:
        problems.append(f"Template {template.name} shows media in its header: add a media link.")
    named = (template.parameter_format or "") == "named"
    if not named and len((template.parameters or {}).get("body") or []) > 4:
        problems.append(f"Template {template.name} has more body parameters than Parley fills.")
    if (template.parameters or {}).get("buttons"):
        problems.append(f"Template {template.name} has URL buttons with parameters.")
    return problems


# --- Workflow ----------------------------------------------------------------------------------


def content_transition(
    item: ContentItem, to_state: str, *, actor=None, note: str = ""
) -> ContentItem:
    """Lock the row, check the move, record it. Must run inside a transaction."""
    locked = ContentItem.objects.select_for_update().get(pk=item.pk)
    if to_state not in TRANSITIONS[locked.state]:
        raise InvalidTransition(
            f"A {locked.get_state_display().lower()} item cannot become "
            f"{ContentState(to_state).label.lower()}.",
            details={"state": locked.state, "requested": to_state},
        )
    ContentTransition.objects.create(
        content_item=locked, from_state=locked.state, to_state=to_state, actor=actor,
        note=note[:500],
    )  # fmt: skip
    locked.state = to_state
    return locked


def content_create(*, created_by=None, note: str = "created", **fields) -> ContentItem:
    """A new draft (fields as on ContentItem)."""
    fields["unlock_buttons"] = unlock_buttons_clean(fields.get("unlock_buttons"))
    with transaction.atomic():
        item = ContentItem.objects.create(created_by=created_by, state=S.DRAFT, **fields)
        ContentTransition.objects.create(
            content_item=item, from_state="", to_state=S.DRAFT, actor=created_by, note=note
        )
    return item


def content_update(*, item: ContentItem, actor=None, **fields) -> ContentItem:
    """Change an item; a rejected, approved or scheduled one goes back to draft for review."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.", code="invalid")
    if "unlock_buttons" in fields:
        fields["unlock_buttons"] = unlock_buttons_clean(fields["unlock_buttons"])
    with transaction.atomic():
        locked = ContentItem.objects.select_for_update().get(pk=item.pk)
        if locked.state not in EDITABLE:
            hint = " (withdraw it from review first)" if locked.state == S.PENDING_REVIEW else ""
            raise InvalidTransition(
                f"A {locked.get_state_display().lower()} item cannot be edited{hint}."
            )
        if locked.state != S.DRAFT:
            note = f"edited while {locked.get_state_display().lower()}: needs review again"
            locked = content_transition(locked, S.DRAFT, actor=actor, note=note)
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*fields, "state", "updated_at"])
    return locked


def _ensure_ready(item: ContentItem) -> None:
    """For submission and approval: ready, and its date has not passed."""
    problems = content_problems(item)
    if item.send_on is not None and item.send_on < content_today():
        problems.append("Its date has passed: choose today or a later day.")
    if problems:
        raise ContentNotReady(
            "The item is not ready: " + " ".join(problems), details={"problems": problems}
        )


def content_submit(*, item: ContentItem, actor=None) -> ContentItem:
    """Send a draft (or a rejected item, as it is) for review."""
    _ensure_ready(item)
    with transaction.atomic():
        locked = content_transition(
            item, S.PENDING_REVIEW, actor=actor, note="submitted for review"
        )
        locked.submitted_by = actor
        locked.submitted_at = timezone.now()
        locked.save(update_fields=["state", "submitted_by", "submitted_at", "updated_at"])
    return locked


def content_withdraw(*, item: ContentItem, actor=None) -> ContentItem:
    with transaction.atomic():
        locked = content_transition(item, S.DRAFT, actor=actor, note="withdrawn from review")
        locked.save(update_fields=["state", "updated_at"])
    return locked


def _reviewed(locked: ContentItem, reviewer, note: str) -> None:
    locked.reviewed_by = reviewer
    locked.reviewed_at = timezone.now()
    locked.review_note = note[:500]
    locked.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_note", "updated_at"])


def content_approve(*, item: ContentItem, reviewer, note: str = "") -> ContentItem:
    """Approve an item under review. Its author (or submitter) cannot approve it."""
    if reviewer is not None and reviewer.pk in {item.created_by_id, item.submitted_by_id}:
        raise SelfApproval("You wrote or submitted this item: another reviewer must approve it.")
    _ensure_ready(item)
    with transaction.atomic():
        locked = content_transition(item, S.APPROVED, actor=reviewer, note=note or "approved")
        if reviewer is not None and reviewer.pk in {locked.created_by_id, locked.submitted_by_id}:
            raise SelfApproval(
                "You wrote or submitted this item: another reviewer must approve it."
            )
        _reviewed(locked, reviewer, note)
    return locked


def content_reject(*, item: ContentItem, reviewer, note: str) -> ContentItem:
    """Reject an item under review; the note tells the author what to change."""
    note = (note or "").strip()
    if not note:
        raise DomainError("Say why it is rejected, so the author can fix it.", code="note_required")
    with transaction.atomic():
        locked = content_transition(item, S.REJECTED, actor=reviewer, note=note)
        _reviewed(locked, reviewer, note)
    return locked


def content_schedule(*, item: ContentItem, actor=None) -> ContentItem:
    """Confirm an approved item for its date (distribution takes approved items too)."""
    if item.send_on is None or item.send_on < content_today():
        raise ContentNotReady("Choose a date from today on before scheduling.")
    with transaction.atomic():
        locked = content_transition(
            item, S.SCHEDULED, actor=actor, note=f"for {item.send_on:%d %b %Y}"
        )
        locked.save(update_fields=["state", "updated_at"])
    return locked


def content_unschedule(*, item: ContentItem, actor=None) -> ContentItem:
    with transaction.atomic():
        locked = content_transition(item, S.APPROVED, actor=actor, note="unscheduled")
        locked.save(update_fields=["state", "updated_at"])
    return locked


def content_today() -> date:
    return timezone.localdate(timezone=ZoneInfo(settings.CONTENT_TIME_ZONE))


def text_summary(text: str, limit: int) -> str:
    plain = " ".join(text.split())
    if len(plain) <= limit:
        return plain
    cut = plain[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


# --- Reporting ---------------------------------------------------------------------------------


def content_stats(item: ContentItem) -> dict[str, Any]:
    """Delivery and unlock figures of one item in three queries."""
    reached = [Status.DELIVERED, Status.READ]
    figures = ContentDelivery.objects.filter(content_item=item).aggregate(
        total=Count("pk"),
        delivered=Count("pk", filter=Q(message__status__in=reached)),
        read=Count("pk", filter=Q(message__status=Status.READ)),
        failed=Count("pk", filter=Q(message__status=Status.FAILED)),
        unlocked=Count("pk", filter=Q(unlocked_at__isnull=False)),
    )
    by_kind = dict(
        ContentUnlock.objects.filter(delivery__content_item=item)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    clicks = LinkClick.objects.filter(link__content_item=item, is_bot=False).aggregate(
        clicks=Count("pk"), clickers=Count("link__contact", distinct=True)
    )
    total = figures["total"]

    def rate(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    return {
        **figures,
        **clicks,
        "delivered_rate": rate(figures["delivered"]),
        "read_rate": rate(figures["read"]),
        "unlocked_rate": rate(figures["unlocked"]),
        "unlocks_by_kind": [
            {"kind": kind, "label": UnlockKind(kind).label, "count": by_kind[kind]}
            for kind in UnlockKind.values
            if kind in by_kind
        ],
    }
