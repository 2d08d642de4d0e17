"""Bulk sends from integrations: one request, many recipients, an ad-hoc campaign.

The recipients get the campaign guarantees: one message each (the unique constraint), the
throttle, pause and resume, progress and the summary. Every recipient is checked against the
same rules as a single send; refused recipients are reported with their index and reason and
the rest go ahead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from crm.models import Contact
from crm.selectors import contacts_resolve
from messaging.campaigns.models import Campaign, CampaignState, CampaignTransition
from messaging.channels.models import Channel
from messaging.sending.models import Direction, Lane, Message, MessageType
from messaging.sending.nudge import send_enqueue_on_commit
from messaging.sending.policy import (
    SendCheck,
    SendKind,
    send_kind,
    send_policy_check_many,
    send_policy_check_number,
    send_policy_check_template,
)
from messaging.sending.send import (
    SendRefused,
    SendRequest,
    message_check_content,
    template_find,
)

MAX_RECIPIENTS = 10_000


@dataclass
class BulkResult:
    campaign: Campaign
    accepted: int
    refused: list[dict[str, Any]] = field(default_factory=list)


def _recipient_content(type_: str, base: dict, recipient: dict) -> dict:
    """The base object with this recipient's own parameters (templates) merged in."""
    if type_ != "template":
        return base
    content = copy.deepcopy(base)
    if recipient.get("components") is not None:
        content["components"] = recipient["components"]
        return content
    params = recipient.get("parameters") or {}
    components = [
        c
        for c in content.get("components", [])
        if c.get("type") not in ("header", "body") or not params.get(c.get("type"))
    ]
    for part in ("header", "body"):
        values = params.get(part)
        if values:
            items = (
                [{"type": "text", "parameter_name": k, "text": str(v)} for k, v in values.items()]
                if isinstance(values, dict)
                else [{"type": "text", "text": str(v)} for v in values]
            )
            components.append({"type": part, "parameters": items})
    for index, value in (params.get("buttons") or {}).items():
        components = [
            c for c in components if not (c.get("type") == "button" and c.get("index") == index)
        ]
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": str(index),
                "parameters": [{"type": "text", "text": str(value)}],
            }
        )
    content["components"] = components
    return content


def bulk_send_create(
    *,
    channel: Channel,
    type: str,
    content: dict[str, Any],
    recipients: list[dict[str, Any]],
    created_by=None,
    name: str = "",
    throttle_mps: int | None = None,
) -> BulkResult:
    """Check every recipient, create an ad-hoc running campaign and queue the accepted ones."""
    if not recipients:
        raise DomainError("Give at least one recipient.", code="invalid")
    if len(recipients) > MAX_RECIPIENTS:
        raise DomainError(
            f"At most {MAX_RECIPIENTS:,} recipients per request ({len(recipients):,} given).",
            code="too_many_recipients",
        )
    template = template_find(channel=channel, content=content) if type == "template" else None
    kind = send_kind(template)
    # The number and the template are the whole request's: refused, nothing is queued.
    whole = send_policy_check_number(channel=channel, kind=kind)
    if whole is None and template is not None:
        whole = send_policy_check_template(template=template)
    if whole is not None:
        raise whole.error()

    resolved = contacts_resolve(phones=[str(r.get("to", "")) for r in recipients])
    bodies = [_recipient_content(type, content, recipient) for recipient in recipients]
    candidates = [i for i, contact in enumerate(resolved) if not isinstance(contact, DomainError)]
    checks = [
        SendCheck(
            contact=resolved[i], kind=kind, needs_window=template is None, template=template,
            content=bodies[i],
        )
        for i in candidates
    ]  # fmt: skip
    policy = dict(zip(candidates, send_policy_check_many(channel=channel, checks=checks),
                      strict=True))  # fmt: skip

    refused: list[dict[str, Any]] = []
    seen: set[int] = set()
    rows: list[tuple[Contact, dict]] = []
    for index, contact in enumerate(resolved):
        recipient, body = recipients[index], bodies[index]
        problem: DomainError | None = None
        if isinstance(contact, DomainError):
            problem = contact
        elif contact.pk in seen:
            problem = SendRefused("This recipient appears twice in the list.", code="duplicate")
        elif (refusal := policy[index]) is not None:
            problem = refusal.error()
        else:
            try:
                message_check_content(SendRequest(channel, contact, type, body))
            except SendRefused as exc:
                problem = exc
        if problem is not None:
            refused.append(
                {
                    "index": index,
                    "to": recipient.get("to"),
                    "code": problem.code,
                    "reason": problem.message,
                }
            )
            continue
        seen.add(contact.pk)
        rows.append((contact, body))
    budget = send_policy_check_number(channel=channel, kind=kind, count=len(rows))
    if rows and budget is not None:
        raise budget.error()

    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name or f"API bulk send {now:%Y-%m-%d %H:%M:%S}",
            channel=channel,
            template=template,
            state=CampaignState.RUNNING,
            is_adhoc=True,
            audience_size=len(rows),
            excluded={"refused": len(refused)} if refused else {},
            created_by=created_by,
            launched_by=created_by,
            launched_at=now,
            throttle_mps=throttle_mps,
        )
        CampaignTransition.objects.create(
            campaign=campaign,
            from_state=CampaignState.DRAFT,
            to_state=CampaignState.RUNNING,
            actor=created_by,
            note="bulk send API",
        )
        Message.objects.bulk_create(
            [
                Message(
                    channel=channel,
                    contact=contact,
                    campaign=campaign,
                    direction=Direction.OUTBOUND,
                    type=MessageType(type),
                    content=body,
                    template=template,
                    is_marketing=kind == SendKind.MARKETING,
                    lane=Lane.BULK,
                    created_at=now,
                    next_attempt_at=now,
                    sent_by=created_by,
                )
                for contact, body in rows
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        if rows:
            send_enqueue_on_commit(channel_id=channel.pk, fanout=1 + len(rows) // 2000)
    return BulkResult(campaign=campaign, accepted=len(rows), refused=refused)
