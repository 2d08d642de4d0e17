"""Content for advisors: the review workflow. Readiness and figures are reads, in
`messaging.content.selectors`; the template and unlock-button rules they share with the
workflow are in `messaging.content.rules`.

Workflow: `draft -> pending_review -> approved | rejected -> scheduled -> distributed`. Every
change takes the item's row lock, checks the transition table and records a
`ContentTransition`. Editing a rejected, approved or scheduled item sends it back to draft
(it must be reviewed again); a rejected item can also be resubmitted as it is. Every edit is
recorded as a `ContentRevision` (who, when, each field before and after). An author, the
person who submitted it, or anyone who edited it never approves it: a reviewer who rewrote a
draft and then approved it used to leave no trace.

Distribution lives in `content_distribution`, Click-to-Unlock in `content_unlock`.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.formats import date_format

from core.errors import DomainError, InvalidTransition
from messaging.content.models import (
    ContentItem,
    ContentRevision,
    ContentState,
    ContentTransition,
)
from messaging.content.rules import ContentNotReady, unlock_buttons_clean
from messaging.content.selectors import content_problems

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


class SelfApproval(DomainError):
    code = "self_approval"
    status_code = 403


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


def _revision_value(value: Any) -> Any:
    """A field's value as the revision stores it (JSON): a related row as its id and name."""
    if isinstance(value, models.Model):
        return {"id": value.pk, "name": str(value)}
    if isinstance(value, date):
        return value.isoformat()
    return value


def content_update(*, item: ContentItem, actor=None, **fields) -> ContentItem:
    """Change an item; a rejected, approved or scheduled one goes back to draft for review.
    What changed is recorded as a ContentRevision by `actor` (nothing when nothing did)."""
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
        edited_in = locked.state
        if locked.state != S.DRAFT:
            note = f"edited while {locked.get_state_display().lower()}: needs review again"
            locked = content_transition(locked, S.DRAFT, actor=actor, note=note)
        changes = {}
        for name, value in fields.items():
            before, after = _revision_value(getattr(locked, name)), _revision_value(value)
            if before != after:
                changes[name] = {"before": before, "after": after}
            setattr(locked, name, value)
        locked.save(update_fields=[*fields, "state", "updated_at"])
        if changes:
            ContentRevision.objects.create(
                content_item=locked, editor=actor,
                editor_name=(actor.get_username() if actor is not None else "")[:150],
                state=edited_in, changes=changes,
            )  # fmt: skip
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


def content_self_review_reason(item: ContentItem, user) -> str | None:
    """Why `user` may not approve `item` (they wrote, submitted or edited it); None if they may.
    The one home of the rule: the staff pages, the admin and the service all ask it."""
    if user is None or user.pk is None:
        return None
    if user.pk in {item.created_by_id, item.submitted_by_id}:
        return "You wrote or submitted this item: another reviewer must approve it."
    if ContentRevision.objects.filter(content_item_id=item.pk, editor_id=user.pk).exists():
        return "You edited this item: another reviewer must approve it."
    return None


def content_items_edited_by(user, item_ids: list[int]) -> set[int]:
    """Of `item_ids`, those `user` edited (one query, for the review queue)."""
    rows = ContentRevision.objects.filter(content_item_id__in=item_ids, editor_id=user.pk)
    return set(rows.values_list("content_item_id", flat=True))


def content_approve(*, item: ContentItem, reviewer, note: str = "") -> ContentItem:
    """Approve an item under review. Whoever wrote, submitted or edited it cannot."""
    if reason := content_self_review_reason(item, reviewer):
        raise SelfApproval(reason)
    _ensure_ready(item)
    with transaction.atomic():
        locked = content_transition(item, S.APPROVED, actor=reviewer, note=note or "approved")
        if reason := content_self_review_reason(locked, reviewer):  # under the row lock
            raise SelfApproval(reason)
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
            item, S.SCHEDULED, actor=actor, note=f"for {date_format(item.send_on)}"
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
