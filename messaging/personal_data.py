"""What messaging holds about a contact, for erasure and the right of access.

crm drives both (`crm.services.contact_erase`, `crm.selectors.contact_data_export`) and reads
through `crm.extensions.personal_data_register`; `MessagingConfig.ready()` registers this.

Erased: message bodies and media (`sending.redaction`, shared with retention), conversation
notes, notification variables, link clicks' browser and address hash, and the raw webhooks
that name the person's number (processed or failed ones; pending ones still have to be
processed). Kept: the rows themselves and their metadata, which analytics counts.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from core.audit import audit_events_redact
from crm.extensions import personal_data_register
from crm.models import Contact
from messaging.content.models import ContentDelivery
from messaging.links.models import LinkClick, TrackedLink
from messaging.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationPreferenceEvent,
)
from messaging.sending.models import Conversation, ConversationEvent, Message, Status
from messaging.sending.redaction import messages_redact_queryset
from messaging.webhooks.models import WebhookEvent, WebhookState


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _webhook_needles(contact: Contact) -> list[str]:
    """Strings that identify the person in a raw webhook body."""
    needles = {contact.wa_id, contact.bsuid, (contact.phone or "").lstrip("+") or None}
    return sorted(n for n in needles if n and len(n) >= 6)


def contact_messaging_erase(contact: Contact) -> dict[str, int]:
    redacted = messages_redact_queryset(Message.objects.filter(contact=contact))
    conversations = Conversation.objects.filter(contact=contact)
    notes = ConversationEvent.objects.filter(conversation__in=conversations).exclude(note="")
    notes_cleared = notes.update(note="")
    audit_events_redact(
        Conversation,
        conversations.values_list("pk", flat=True),
        label=f"Conversation of erased contact #{contact.pk}",
    )
    audit_events_redact(
        NotificationPreference,
        NotificationPreference.objects.filter(contact=contact).values_list("pk", flat=True),
        label=f"Preference of erased contact #{contact.pk}",
    )
    variables = Notification.objects.filter(contact=contact).exclude(variables={})
    notifications = variables.update(variables={}, refusal_details={})
    clicks = LinkClick.objects.filter(link__contact=contact).update(user_agent="", ip_hash="")
    webhooks = 0
    needles = _webhook_needles(contact)
    if needles:
        named = Q()
        for needle in needles:
            named |= Q(body__contains=needle)
        webhooks, _ = (
            WebhookEvent.objects.filter(named).exclude(state=WebhookState.PENDING).delete()
        )
    return {
        "messages": redacted.messages,
        "media_files": redacted.media_files,
        "conversation_notes": notes_cleared,
        "notifications": notifications,
        "link_clicks": clicks,
        "webhook_events": webhooks,
    }


def contact_messaging_export(contact: Contact) -> dict[str, Any]:
    messages = (
        Message.objects.filter(contact=contact)
        .select_related("template", "channel")
        .prefetch_related("status_events")
        .order_by("created_at", "id")
    )
    conversations = (
        Conversation.objects.filter(contact=contact)
        .select_related("channel", "assignee")
        .prefetch_related("events", "surveys")
        .order_by("opened_at", "id")
    )
    links = TrackedLink.objects.filter(contact=contact).prefetch_related("clicks").order_by("id")
    return {
        "messages": [
            {
                "id": m.pk, "uuid": str(m.uuid), "channel": str(m.channel),
                "direction": m.direction, "type": m.type, "content": m.content,
                "edit_history": m.edit_history, "reaction": m.reaction,
                "media": m.media_file.name if m.media_file else None,
                "template": m.template.name if m.template else None,
                "campaign": m.campaign_id, "status": Status(m.status).name.lower(),
                "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at),
                "delivered_at": _iso(m.delivered_at), "read_at": _iso(m.read_at),
                "failed_at": _iso(m.failed_at), "received_at": _iso(m.received_at),
                "error_code": m.error_code, "error_title": m.error_title,
                "redacted_at": _iso(m.redacted_at),
                "statuses": [
                    {"status": e.status, "at": _iso(e.timestamp)} for e in m.status_events.all()
                ],
            }
            for m in messages
        ],
        "conversations": [
            {
                "id": c.pk, "channel": c.channel_id, "open": c.is_open,
                "opened_at": _iso(c.opened_at), "closed_at": _iso(c.closed_at),
                "assignee": c.assignee.get_username() if c.assignee else None,
                "events": [
                    {"kind": e.kind, "at": _iso(e.at), "note": e.note} for e in c.events.all()
                ],
                "satisfaction_surveys": [
                    {"closed_at": _iso(v.closed_at), "rating": v.rating,
                     "rated_at": _iso(v.rated_at)}
                    for v in c.surveys.all()
                ],
            }
            for c in conversations
        ],
        "notifications": [
            {
                "type": n.event_type.code, "reference_id": n.reference_id,
                "variables": n.variables, "created_at": _iso(n.created_at),
                "message": n.message_id, "refusal": n.refusal_code,
            }
            for n in Notification.objects.filter(contact=contact)
            .select_related("event_type")
            .order_by("created_at", "id")
        ],
        "notification_preferences": [
            {"type": p.event_type.code, "opted_out": p.opted_out, "updated_at": _iso(p.updated_at)}
            for p in NotificationPreference.objects.filter(contact=contact).select_related(
                "event_type"
            )
        ],
        "notification_preference_history": [
            {
                "type": e.event_type.code, "opted_out": e.opted_out, "source": e.source,
                "note": e.note, "at": _iso(e.created_at),
            }
            for e in NotificationPreferenceEvent.objects.filter(contact=contact)
            .select_related("event_type")
            .order_by("created_at", "id")
        ],
        "content_deliveries": [
            {
                "content_item": d.content_item_id, "message": d.message_id,
                "unlocked_at": _iso(d.unlocked_at), "created_at": _iso(d.created_at),
            }
            for d in ContentDelivery.objects.filter(contact=contact).order_by("created_at", "id")
        ],
        "link_clicks": [
            {
                "url": link.url, "message": link.message_id, "campaign": link.campaign_id,
                "clicks": [
                    {"at": _iso(c.clicked_at), "user_agent": c.user_agent, "bot": c.is_bot}
                    for c in link.clicks.all()
                ],
            }
            for link in links
        ],
    }  # fmt: skip


def personal_data_register_messaging() -> None:
    personal_data_register(
        "messaging", erase=contact_messaging_erase, export=contact_messaging_export, order=10
    )
