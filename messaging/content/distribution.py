"""Daily distribution of approved content to advisors.

Each due item is announced to its active advisors with the item's template, whose
quick-reply buttons carry `<KIND>:<delivery id>` payloads. Rows are written in bulk (one
`ContentDelivery` and one queued BULK-lane `Message` per advisor, a few queries per thousand
advisors), guarded by the unique (item, contact) constraint, so running it twice sends nothing
twice. Who is excluded is the send policy's call (`send_policy_audience_q`), and the
dispatcher asks the policy again for each message just before sending it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from crm.models import Advisor
from crm.selectors import segment_contacts
from messaging.content.models import ContentDelivery, ContentItem, ContentTarget
from messaging.content.rules import header_format, quick_reply_buttons, unlock_buttons_clean
from messaging.content.selectors import content_problems
from messaging.content.services import (
    DUE,
    NAME_KEYS,
    TITLE_KEYS,
    S,
    content_today,
    content_transition,
    text_summary,
)
from messaging.sending.models import Direction, Lane, Message, MessageType
from messaging.sending.nudge import send_enqueue_on_commit
from messaging.sending.policy import SendKind, exclusion_key, send_kind, send_policy_audience_q
from messaging.sending.send import template_content_build

logger = logging.getLogger(__name__)


# --- Audience ----------------------------------------------------------------------------------


def content_audience(item: ContentItem) -> QuerySet[Advisor]:
    """The active advisors the item targets, before exclusions."""
    advisors = Advisor.objects.filter(is_active=True)
    if item.target == ContentTarget.TIER:
        advisors = advisors.filter(tier=item.target_tier)
    elif item.target == ContentTarget.REGION:
        advisors = advisors.filter(region__iexact=item.target_region.strip())
    elif item.target == ContentTarget.SEGMENT:
        if item.target_segment_id is None:
            return advisors.none()
        advisors = advisors.filter(contact__in=segment_contacts(item.target_segment).values("pk"))
    return advisors


def _exclusions(kind: str) -> dict[str, Q]:
    """The send policy's reasons an advisor's contact cannot get the announcement, by report
    key: mutually exclusive, in order of precedence."""
    conditions = send_policy_audience_q(kind=kind, contact_path="contact")
    return {exclusion_key(code): condition for code, condition in conditions.items()}


def _preferences(preferences) -> list[str]:
    """An advisor's content preferences as the categories they name (lower case)."""
    if not isinstance(preferences, list):
        return []
    return [str(p).strip().lower() for p in preferences if str(p).strip()]


def _wants(preferences, category: str) -> bool:
    """Advisors with content preferences get only those categories (none: everything)."""
    wanted = _preferences(preferences)
    if not category or not wanted:
        return True
    return category.strip().lower() in wanted


# What each reason an advisor is not reached reads as on the pages.
EXCLUSION_LABELS = {
    "preferences": "prefer other categories",
    "blocked": "blocked",
    "undeliverable": "undeliverable",
    "no_phone": "no phone number",
    "no_consent": "no marketing consent",
    "opted_out": "opted out of marketing",
}


def exclusion_text(excluded: dict[str, int]) -> str:
    """ "17 prefer other categories, 3 no marketing consent"."""
    return ", ".join(
        f"{n} {EXCLUSION_LABELS.get(key, key.replace('_', ' '))}"
        for key, n in sorted(excluded.items(), key=lambda kv: -kv[1])
    )


@dataclass
class Reach:
    """Who an item would reach if it went out now, and why the others would not: what staff
    confirm before distributing. Counted by the same rules `content_materialise` applies."""

    item: ContentItem
    problems: list[str] = field(default_factory=list)  # the item would be skipped
    targeted: int = 0  # active advisors of the item's audience
    excluded: dict[str, int] = field(default_factory=dict)  # the send policy's reasons
    already: int = 0  # have this item already
    wants: int = 0  # prefer the item's category
    everything: int = 0  # have no preferences: every category
    other: int = 0  # prefer other categories only
    preferences: list[tuple[str, int]] = field(default_factory=list)  # among the targeted

    @property
    def will_receive(self) -> int:
        return 0 if self.problems else self.wants + self.everything

    @property
    def category(self) -> str:
        return (self.item.category or "").strip().lower()

    @property
    def excluded_labels(self) -> list[tuple[str, int]]:
        """The send policy's exclusions as the page reads them."""
        return [
            (EXCLUSION_LABELS.get(key, key.replace("_", " ")), n)
            for key, n in sorted(self.excluded.items(), key=lambda kv: -kv[1])
        ]


def content_reach(item: ContentItem) -> Reach:
    """Count who `item` would reach now: its active advisors, less the send policy's
    exclusions and those who have it already, split by their content preferences.

    Four queries; advisors' preferences (JSON lists) are read row by row, as distribution
    reads them, so the counts are the rule itself and not a second version of it.
    """
    reach = Reach(item=item, problems=content_problems(item))
    if item.template is None:
        return reach
    audience = content_audience(item)
    reasons = _exclusions(send_kind(item.template))
    counts = audience.aggregate(
        targeted=Count("pk"), **{r: Count("pk", filter=q) for r, q in reasons.items()}
    )
    reach.targeted = counts.pop("targeted")
    reach.excluded = {reason: n for reason, n in counts.items() if n}
    tally: dict[str, int] = {}
    for (preferences,) in audience.values_list("content_preferences").iterator():
        for category in dict.fromkeys(_preferences(preferences)):
            tally[category] = tally.get(category, 0) + 1
    reach.preferences = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    blocked = Q()
    for condition in reasons.values():
        blocked |= condition
    reachable = audience.exclude(blocked)
    already = ContentDelivery.objects.filter(content_item=item, contact=OuterRef("contact_id"))
    reach.already = reachable.filter(Exists(already)).count()
    for (preferences,) in (
        reachable.exclude(Exists(already)).values_list("content_preferences").iterator()
    ):
        if not _wants(preferences, item.category):
            reach.other += 1
        elif reach.category and _preferences(preferences):
            reach.wants += 1
        else:
            reach.everything += 1  # no preferences, or an item of no category
    return reach


def content_reach_today(day: date | None = None) -> list[Reach]:
    """The reach of every item `content_distribute` would announce on `day` (default today)."""
    items = content_due(day or content_today()).select_related(
        "template", "template__channel", "target_segment"
    )
    return [content_reach(item) for item in items]


# --- Distribution ------------------------------------------------------------------------------


def content_announcement(
    item: ContentItem, *, advisor_name: str, delivery_id: int | None
) -> dict[str, Any]:
    """The template object announcing `item` to one advisor (payloads name the delivery)."""
    template = item.template
    declared = template.parameters or {}
    name = (advisor_name or "").split(" ")[0] or "there"
    ordered = [name, item.title, text_summary(item.body, 120), item.category or "today"]

    def values(part: str, default: list[str]):
        names = declared.get(part) or []
        if not names:
            return None
        if (template.parameter_format or "") == "named":
            picked, rest = {}, iter(default)
            for key in names:
                if key.lower() in NAME_KEYS:
                    picked[key] = name
                elif key.lower() in TITLE_KEYS:
                    picked[key] = item.title
                else:
                    picked[key] = next(rest, item.title)
            return picked
        return default[: len(names)]

    payloads = {}
    if delivery_id is not None:
        for (index, _text), button in zip(
            quick_reply_buttons(template), unlock_buttons_clean(item.unlock_buttons), strict=False
        ):
            payloads[index] = f"{button['kind']}:{delivery_id}"
    media_header = header_format(template) in {"IMAGE", "VIDEO", "DOCUMENT"}
    return template_content_build(
        template=template,
        body=values("body", ordered),
        header=None if media_header else values("header", [item.title]),
        header_media_link=item.media_url if media_header else None,
        button_payloads=payloads or None,
    )


@dataclass
class ItemDistribution:
    item: int
    title: str
    sent: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    skipped: str = ""
    reached_nobody: bool = False  # nobody matched: the item stays approved for later


@dataclass
class DistributionResult:
    day: date
    items: list[ItemDistribution] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(i.sent for i in self.items)

    def summary(self) -> str:
        done = [i for i in self.items if not i.skipped]
        text = f"{len(done)} item(s) distributed to {self.sent} advisor(s) for {self.day}"
        skipped = [f"{i.title}: {i.skipped}" for i in self.items if i.skipped]
        return text + (f"; skipped {'; '.join(skipped)}" if skipped else "")


def content_due(day: date) -> QuerySet[ContentItem]:
    return ContentItem.objects.filter(state__in=DUE, send_on=day).order_by("pk")


def content_distribute(*, day: date | None = None, actor=None) -> DistributionResult:
    """Announce every approved or scheduled item due on `day` (default: today in
    CONTENT_TIME_ZONE) to its advisors. Safe to run again: nobody gets an item twice."""
    day = day or content_today()
    result = DistributionResult(day=day)
    for item in content_due(day).select_related("template", "template__channel"):
        result.items.append(content_item_distribute(item=item, actor=actor))
    if result.items:
        logger.info("content distribution: %s", result.summary())
    return result


def content_item_distribute(*, item: ContentItem, actor=None) -> ItemDistribution:
    """Announce one approved or scheduled item now; it becomes distributed."""
    outcome = ItemDistribution(item=item.pk, title=item.title)
    problems = content_problems(item)
    if problems:
        outcome.skipped = " ".join(problems)
        logger.warning("content %s not distributed: %s", item.pk, outcome.skipped)
        return outcome
    with transaction.atomic():
        locked = (
            ContentItem.objects.select_for_update()
            .select_related("template", "template__channel")
            .get(pk=item.pk)
        )
        if locked.state not in DUE:
            outcome.skipped = f"it is {locked.get_state_display().lower()}"
            return outcome
        outcome.sent, outcome.excluded = content_materialise(item=locked)
        if not outcome.sent and not ContentDelivery.objects.filter(content_item=locked).exists():
            # Nobody matched (preferences, consent, an empty audience): announcing it to no one
            # is not distributing it. It stays approved, to go out once advisors match.
            outcome.reached_nobody = True
            why = exclusion_text(outcome.excluded)
            outcome.skipped = (
                "no advisor matches" + (f" ({why})" if why else "") + ("; it stays approved")
            )
            logger.warning("content %s not distributed: %s", item.pk, outcome.skipped)
            return outcome
        moved = content_transition(
            locked, S.DISTRIBUTED, actor=actor, note=f"announced to {outcome.sent} advisor(s)"
        )
        moved.distributed_at = timezone.now()
        moved.save(update_fields=["state", "distributed_at", "updated_at"])
        if outcome.sent:
            fanout = max(1, min(settings.CAMPAIGN_MAX_DRAINERS, outcome.sent // 1000 + 1))
            send_enqueue_on_commit(channel_id=locked.template.channel_id, fanout=fanout)
    return outcome


def content_materialise(*, item: ContentItem, batch_size: int = 1000) -> tuple[int, dict]:
    """Write one delivery and one queued template message per reachable advisor, in bulk.

    Returns (messages written, {exclusion reason: count}). A few queries per batch, none per
    advisor; advisors who already have a delivery of this item are skipped.
    """
    template = item.template
    kind = send_kind(template)
    marketing = kind == SendKind.MARKETING
    audience = content_audience(item)
    reasons = _exclusions(kind)
    counts = audience.aggregate(**{r: Count("pk", filter=q) for r, q in reasons.items()})
    excluded = {reason: n for reason, n in counts.items() if n}
    blocked = Q()
    for condition in reasons.values():
        blocked |= condition
    already = ContentDelivery.objects.filter(content_item=item, contact=OuterRef("contact_id"))
    rows = (
        audience.exclude(blocked)
        .exclude(Exists(already))
        .values_list("pk", "contact_id", "contact__name", "contact__profile_name",
                     "content_preferences")
        .order_by("pk")
        .iterator(chunk_size=batch_size)
    )  # fmt: skip
    written = 0
    batch: list[tuple[int, int, str]] = []
    for advisor_id, contact_id, name, profile_name, preferences in rows:
        if not _wants(preferences, item.category):
            excluded["preferences"] = excluded.get("preferences", 0) + 1
            continue
        batch.append((advisor_id, contact_id, name or profile_name or ""))
        if len(batch) >= batch_size:
            written += _materialise_batch(item, batch, marketing)
            batch = []
    if batch:
        written += _materialise_batch(item, batch, marketing)
    return written, excluded


def _materialise_batch(item: ContentItem, batch: list[tuple[int, int, str]], marketing) -> int:
    now = timezone.now()
    ContentDelivery.objects.bulk_create(
        [
            ContentDelivery(content_item=item, contact_id=c, advisor_id=a, created_at=now)
            for a, c, _ in batch
        ],
        ignore_conflicts=True,
    )
    names = {c: n for _, c, n in batch}
    pending = list(
        ContentDelivery.objects.filter(
            content_item=item, contact_id__in=list(names), message__isnull=True
        ).values_list("pk", "contact_id")
    )
    template = item.template
    messages = [
        Message(
            channel_id=template.channel_id,
            contact_id=contact_id,
            direction=Direction.OUTBOUND,
            type=MessageType.TEMPLATE,
            content=content_announcement(item, advisor_name=names[contact_id], delivery_id=pk),
            template=template,
            is_marketing=marketing,
            lane=Lane.BULK,
            is_automated=True,
            created_at=now,
            next_attempt_at=now,
        )
        for pk, contact_id in pending
    ]
    Message.objects.bulk_create(messages)
    if any(m.pk is None for m in messages):  # a backend that cannot return ids
        ids = dict(
            Message.objects.filter(uuid__in=[m.uuid for m in messages]).values_list("uuid", "pk")
        )
        for m in messages:
            m.pk = ids[m.uuid]
    ContentDelivery.objects.bulk_update(
        [
            ContentDelivery(pk=pk, message_id=message.pk)
            for (pk, _), message in zip(pending, messages, strict=True)
        ],
        ["message"],
    )
    return len(messages)
