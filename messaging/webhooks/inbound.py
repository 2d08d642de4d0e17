"""What users send us: messages, marketing preferences; and template status changes.

Each inbound message is stored once (the wamid is unique; a redelivery is ignored) with the
time WhatsApp gave it, not the time it reached us. A new message updates the contact (the
24-hour window, the unread count), its conversation, and may change consent (STOP/START, or a
tap on a marketing opt-out button, recorded at once, before automation sees the message).
After commit, and never inside this processing, it records the opening of its conversation's
cycle, routes it to an agent (`messaging.inbox`) and queues its auto-reply
(`messaging.automation`), called here directly; then `inbound_message_received` and
`button_clicked` tell analytics. A tap on a satisfaction survey is recorded as the rating and
does none of that (`messaging.inbox.survey`).
Media is downloaded in the background (`messaging.webhook_fetch_media`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import mimetypes
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from core.queueing import task
from crm.models import Consent, ConsentSource, Contact, NumberChangeSource
from crm.selectors import contact_number_left, contact_resolve
from crm.services import consent_set, contact_number_change
from messaging.automation.services import autoreply_enqueue
from messaging.channels.clients import provider_for_channel
from messaging.channels.models import Channel
from messaging.channels.opt_out import consent_keyword
from messaging.channels.templates import (
    templates_category_event_apply,
    templates_quality_event_apply,
    templates_status_event_apply,
)
from messaging.hooks_out.models import HookEvent
from messaging.hooks_out.services import event_emit
from messaging.inbox.routing import conversation_route_safely
from messaging.inbox.survey import survey_answer_record, survey_reply_match
from messaging.providers import (
    InboundMessage,
    MessageDeletion,
    MessageEdit,
    ProviderError,
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
    TemporaryError,
    UserPreference,
)
from messaging.sending.conversations import conversation_opened_record
from messaging.sending.engagement import NOT_A_REPLY, replies_mark
from messaging.sending.models import Conversation, Direction, Message, MessageType, Status
from messaging.sending.selectors import message_opt_out_tap
from messaging.sending.send import SendRefused, message_send
from messaging.signals import button_clicked, inbound_message_received

logger = logging.getLogger(__name__)

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
# Types stored under their own name; anything else WhatsApp invents is kept as unsupported.
DIRECT_TYPES = frozenset({"text", "location", "contacts", "reaction", "system", "order"})
REPLY_TYPES = frozenset({MessageType.BUTTON_REPLY, MessageType.INTERACTIVE_REPLY})
# Not written by the user: no window, no unread badge.
NOT_FROM_USER = frozenset({"system"})
NOT_UNREAD = frozenset({"system", "reaction"})


# --- Messages ---------------------------------------------------------------------------------


def _keyword_consent(message_type: str, content: dict[str, Any]) -> str | None:
    if message_type == MessageType.TEXT:
        text = content.get("body")
    elif message_type == MessageType.BUTTON_REPLY:
        text = content.get("text")
    else:
        return None
    if not isinstance(text, str) or len(text) > 64:
        return None
    return consent_keyword(text)


def _media_id(kind: str, content: dict[str, Any]) -> str:
    if kind not in MEDIA_TYPES:
        return ""
    return str(content.get("id") or content.get("link") or content.get("url") or "")[:128]


def inbound_content(inbound: InboundMessage) -> tuple[str, dict[str, Any], str]:
    """(our message type, content, media id) for an inbound message of any WhatsApp type."""
    kind = inbound.type
    content = dict(inbound.content)
    if kind in MEDIA_TYPES:
        return kind, content, _media_id(kind, content)
    if kind == "button":
        return MessageType.BUTTON_REPLY, content, ""
    reply_kind = str(content.get("type") or "")
    if kind == "interactive" and isinstance(content.get(reply_kind), dict):
        # (An interactive without its reply object, as pywa records one next to value-level
        # errors, says nothing that was tapped: it is kept as unsupported below.)
        reply = content[reply_kind]
        content = {**content, "id": reply.get("id", ""), "title": reply.get("title", "")}
        if reply.get("description"):
            content["description"] = reply["description"]
        if reply_kind == "nfm_reply" and isinstance(reply.get("response_json"), str):
            with contextlib.suppress(ValueError):  # a WhatsApp Flow's answers, as JSON text
                content["response"] = json.loads(reply["response_json"])
        return MessageType.INTERACTIVE_REPLY, content, ""
    if kind in DIRECT_TYPES:
        return kind, content, ""
    if kind != "unsupported":
        content = {"original_type": kind, "message": inbound.raw}
    if inbound.errors:
        content["errors"] = inbound.errors
    return MessageType.UNSUPPORTED, content, ""


def _sender_check(item: InboundMessage | MessageDeletion) -> None:
    if not item.wamid:
        raise ValueError("inbound message without an id")
    if not item.from_wa_id and not item.from_bsuid:
        raise ValueError("inbound message without a sender (wa_id or user id)")


def inbound_message_apply(*, inbound: InboundMessage, channel: Channel) -> Message | None:
    """Store one inbound message and everything it changes; None when it was a duplicate.

    Raises ValueError for a message that cannot be attributed (no id or no sender).
    """
    _sender_check(inbound)
    existing = Message.objects.filter(wamid=inbound.wamid).first()
    if existing is not None:
        _late_original_record(existing, inbound)
        return None
    return _inbound_store(inbound, channel)


def _inbound_store(
    inbound: InboundMessage, channel: Channel, *, deleted_at: datetime | None = None
) -> Message | None:
    """The message row and its bookkeeping; a deleted message (`deleted_at`: we learn of it
    only through its deletion) is kept for the thread but counts as nothing new."""
    received_at = inbound.timestamp or timezone.now()
    contact = (
        inbound.from_wa_id and contact_number_left(wa_id=inbound.from_wa_id, before=received_at)
    ) or contact_resolve(
        wa_id=inbound.from_wa_id, bsuid=inbound.from_bsuid, create=True,
        profile_name=inbound.profile_name or "",
    )  # fmt: skip
    message_type, content, media_id = inbound_content(inbound)
    if deleted_at is not None:
        message_type, content, media_id = MessageType.UNSUPPORTED, dict(DELETED_UNSEEN), ""
    from_user = message_type not in NOT_FROM_USER and deleted_at is None
    survey = _survey_answered(contact, channel, message_type, content, deleted_at)
    conversation = _conversation_touch(
        contact, channel, received_at, from_user=from_user, reopen=survey is None
    )
    error = inbound.errors[0] if inbound.errors else {}
    message = Message(
        channel=channel,
        contact=contact,
        conversation=conversation,
        direction=Direction.INBOUND,
        type=message_type,
        content=content,
        wamid=inbound.wamid,
        wa_id=(inbound.from_wa_id or "")[:32],
        context_wamid=(inbound.context_wamid or "")[:128],
        status=Status.RECEIVED,
        received_at=received_at,
        created_at=received_at,
        media_id=media_id,
        error_code=error.get("code") if isinstance(error.get("code"), int) else None,
        error_title=str(error.get("title") or error.get("message") or "")[:300],
        error_detail=str(error.get("details") or ""),
        deleted_at=deleted_at,
        reply_credited=True,  # just below
    )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        if Message.objects.filter(wamid=inbound.wamid).exists():
            return None  # the same message, processed concurrently
        raise
    if deleted_at is None:
        _inbound_event(message, contact, channel)
    unread = message_type not in NOT_UNREAD and deleted_at is None and survey is None
    _contact_touch(contact, received_at, from_user=from_user, unread=unread)
    if message_type not in NOT_A_REPLY:
        replies_mark(contact_id=contact.pk, at=received_at)
    if deleted_at is not None:
        return message
    if survey is not None:
        # A rating, not a request: recorded, and nothing else (no reopening, no routing,
        # no auto-reply, not a button click for analytics).
        survey_answer_record(survey=survey[0], rating=survey[1], reply=message)
        _signals_on_commit(message, contact, clicks=False)
        return message

    if message_type == MessageType.REACTION:
        _reaction_apply(message)
    if message_type == MessageType.SYSTEM and content.get("type") == NUMBER_CHANGED:
        _number_change_apply(contact, message)
    request = _consent_request(message)
    if request is not None:
        consent, source, note = request
        _consent_from_user(contact, consent, source, received_at, channel, message, note=note)
    if media_id:
        transaction.on_commit(lambda: media_fetch_enqueue(message.pk))
    _inbox_and_automation_on_commit(message_id=message.pk, conversation_id=conversation.pk)
    _signals_on_commit(message, contact)
    return message


def _inbound_event(message: Message, contact: Contact, channel: Channel) -> None:
    """The `message.inbound` event webhook, in the transaction that stores the message. A
    contact's messages reach a subscription in the order they were stored."""
    event_emit(
        event_type=HookEvent.MESSAGE_INBOUND,
        data={
            "message": {
                "id": str(message.uuid),
                "wamid": message.wamid,
                "type": message.type,
                "content": message.content,
                "context_wamid": message.context_wamid or None,
                "received_at": message.received_at.isoformat() if message.received_at else None,
                "contact_id": contact.pk,
                "phone": contact.phone,
                "profile_name": contact.profile_name,
                "channel": channel.phone_number_id,
            }
        },
        ordering_key=f"contact:{contact.pk}",
    )


# --- Number changes ---------------------------------------------------------------------------

NUMBER_CHANGED = "user_changed_number"


def _number_change_apply(contact: Contact, message: Message) -> None:
    """A `user_changed_number` notice (WHATSAPP.md 2.4): sent from the old number, it names
    the new WhatsApp id (`wa_id`, or `new_wa_id`). The contact takes it (crm merges whoever
    held it), so the next message from the new number finds the same contact."""
    new_wa_id = str(message.content.get("new_wa_id") or message.content.get("wa_id") or "")
    if not new_wa_id.strip():
        raise ValueError(f"{NUMBER_CHANGED} without the new number (wa_id)")
    contact_number_change(
        contact=contact,
        new_phone=None,
        new_wa_id=new_wa_id.strip()[:32],
        source=NumberChangeSource.WHATSAPP,
        at=message.received_at,
        note=f"WhatsApp message {message.wamid}",
    )


# --- Edits and deletions ----------------------------------------------------------------------

# The content of a message we learnt of only through its deletion.
DELETED_UNSEEN = {"deleted_before_received": True}


def _at(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _version(wamid: str, at: datetime, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"wamid": wamid, "at": _at(at), "type": kind, "content": content}


def _versions_write(message: Message, history: list[dict[str, Any]]) -> None:
    """Save `history` (every version of the message) and show its newest version."""
    history.sort(key=lambda v: (datetime.fromisoformat(v["at"]), v["wamid"] != message.wamid))
    latest = history[-1]
    media_id = _media_id(latest["type"], latest["content"])
    updates: dict[str, Any] = {
        "edit_history": history,
        "type": latest["type"],
        "content": latest["content"],
        "edited_at": (
            datetime.fromisoformat(latest["at"]) if latest["wamid"] != message.wamid else None
        ),
    }
    if media_id != message.media_id:
        updates.update(media_id=media_id, media_file="", media_error="")
        if media_id:
            transaction.on_commit(lambda: media_fetch_enqueue(message.pk))
    Message.objects.filter(pk=message.pk).update(**updates)
    for field, value in updates.items():
        setattr(message, field, value)


def message_edit_apply(*, edit: MessageEdit, channel: Channel) -> Message | None:
    """A user edited a message: the original (by its wamid) shows the new version and keeps
    every earlier one in `edit_history`. None when this edit was already applied.

    Webhooks are not ordered: an edit older than the version shown joins the history without
    replacing it, and an edit whose original we never received (sent before Parley, or still
    on its way) is stored as that message, so the original completes it when it comes.
    Raises ValueError for an edit that names no original, or one of our own messages.
    """
    new = edit.message
    _sender_check(new)
    if not edit.original_wamid:
        raise ValueError(f"edit {new.wamid} without the id of the message it edits")
    at = new.timestamp or timezone.now()
    kind, content, _media = inbound_content(new)
    version = _version(new.wamid, at, kind, content)
    original = Message.objects.select_for_update().filter(wamid=edit.original_wamid).first()
    if original is None:
        original = _inbound_store(
            dataclasses.replace(new, wamid=edit.original_wamid), channel
        )  # fmt: skip
        if original is None:  # stored concurrently: apply to that row
            return message_edit_apply(edit=edit, channel=channel)
        _versions_write(original, [version])
        return original
    if original.direction != Direction.INBOUND:
        raise ValueError(f"edit {new.wamid} names {edit.original_wamid}, not the user's message")
    history = list(original.edit_history or [])
    if any(v.get("wamid") == new.wamid for v in history):
        return None
    if not history and original.content != DELETED_UNSEEN:
        stored_at = original.received_at or original.created_at
        history.append(_version(original.wamid, stored_at, original.type, original.content))
    _versions_write(original, [*history, version])
    return original


def _late_original_record(existing: Message, inbound: InboundMessage) -> None:
    """The original of a message we first knew through its edit or deletion arrived: its
    version completes the row (the newest version stays shown; a deleted one stays deleted)
    and its time becomes the message's."""
    if existing.direction != Direction.INBOUND:
        return
    history = list(existing.edit_history or [])
    unseen = existing.content == DELETED_UNSEEN
    if not unseen and (not history or any(v.get("wamid") == existing.wamid for v in history)):
        return  # an ordinary redelivery
    at = inbound.timestamp or existing.received_at or timezone.now()
    kind, content, _media = inbound_content(inbound)
    with transaction.atomic():
        if history:
            _versions_write(existing, [*history, _version(existing.wamid, at, kind, content)])
        else:
            Message.objects.filter(pk=existing.pk).update(
                type=kind, content=content, media_id=_media_id(kind, content)
            )
        Message.objects.filter(pk=existing.pk, received_at__gt=at).update(
            received_at=at, created_at=at
        )


def message_deletion_apply(*, deletion: MessageDeletion, channel: Channel) -> Message | None:
    """A user deleted a message they sent: the original (by its wamid) is marked deleted
    (`deleted_at`; the thread hides its content). None when it already was.

    A deletion whose original we never received leaves a deleted placeholder under the
    original's id, so that the original, should it arrive later, stays deleted. Raises
    ValueError for a deletion that names no original, or one of our own messages.
    """
    _sender_check(deletion)
    if not deletion.original_wamid:
        raise ValueError(f"deletion {deletion.wamid} without the id of the deleted message")
    at = deletion.timestamp or timezone.now()
    original = Message.objects.filter(wamid=deletion.original_wamid).first()
    if original is None:
        placeholder = InboundMessage(
            channel_key=deletion.channel_key,
            wamid=deletion.original_wamid,
            from_wa_id=deletion.from_wa_id,
            from_bsuid=deletion.from_bsuid,
            profile_name=None,
            timestamp=at,
            type="unsupported",
            content={},
            raw=deletion.raw,
        )
        stored = _inbound_store(placeholder, channel, deleted_at=at)
        return stored or message_deletion_apply(deletion=deletion, channel=channel)
    if original.direction != Direction.INBOUND:
        raise ValueError(
            f"deletion {deletion.wamid} names {deletion.original_wamid}, not the user's message"
        )
    if Message.objects.filter(pk=original.pk, deleted_at__isnull=True).update(deleted_at=at):
        original.deleted_at = at
        return original
    return None


def _survey_answered(contact, channel, message_type, content, deleted_at):
    """(survey, rating) when the message is a tap on a satisfaction survey, else None."""
    if message_type != MessageType.INTERACTIVE_REPLY or deleted_at is not None:
        return None
    return survey_reply_match(
        contact_id=contact.pk, channel_id=channel.pk, reply_id=str(content.get("id") or "")
    )


def _conversation_touch(
    contact: Contact, channel: Channel, at: datetime, *, from_user: bool, reopen: bool = True
) -> Conversation:
    conversation, created = Conversation.objects.get_or_create(
        contact=contact,
        channel=channel,
        defaults={
            "opened_at": at,
            "last_activity_at": at,
            "first_inbound_at": at,
            "last_inbound_at": at if from_user else None,
        },
    )
    if created:
        return conversation
    changes: dict[str, Any] = {"last_activity_at": Greatest(F("last_activity_at"), Value(at))}
    if from_user:
        # The earliest message opens the conversation, whatever order they arrive in.
        changes["first_inbound_at"] = Coalesce(Least(F("first_inbound_at"), Value(at)), Value(at))
        # This number's window: only ever forward (a late, older message must not shorten it).
        changes["last_inbound_at"] = Coalesce(Greatest(F("last_inbound_at"), Value(at)), Value(at))
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    if from_user and (conversation.last_inbound_at is None or conversation.last_inbound_at < at):
        conversation.last_inbound_at = at
    if from_user and reopen and not conversation.is_open:
        Conversation.objects.filter(pk=conversation.pk, is_open=False).update(
            is_open=True, opened_at=at, closed_at=None
        )
        conversation.is_open = True
    return conversation


def _contact_touch(contact: Contact, at: datetime, *, from_user: bool, unread: bool) -> None:
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if from_user:
        # Only ever forward: a late, older message must not shorten the 24-hour window.
        changes["last_inbound_at"] = Coalesce(Greatest(F("last_inbound_at"), Value(at)), Value(at))
    if unread:
        changes["unread_count"] = F("unread_count") + 1
    Contact.objects.filter(pk=contact.pk).update(**changes)
    if from_user and (contact.last_inbound_at is None or contact.last_inbound_at < at):
        contact.last_inbound_at = at


def _reaction_apply(message: Message) -> None:
    """Show the contact's latest reaction on the message it reacted to ('' removes it)."""
    target_wamid = message.content.get("message_id")
    if not target_wamid:
        return
    latest = (
        Message.objects.filter(
            contact_id=message.contact_id,
            direction=Direction.INBOUND,
            type=MessageType.REACTION,
            content__message_id=target_wamid,
        )
        .order_by("-received_at", "-pk")
        .values_list("content", flat=True)
        .first()
    )
    emoji = str((latest or {}).get("emoji") or "")[:16]
    Message.objects.filter(wamid=target_wamid).update(reaction=emoji)


def _replied_to(message: Message) -> Message | None:
    if message.context_wamid:
        target = Message.objects.filter(
            wamid=message.context_wamid, direction=Direction.OUTBOUND
        ).first()
        if target is not None:
            return target
    return (
        Message.objects.filter(
            contact_id=message.contact_id, direction=Direction.OUTBOUND, wamid__isnull=False
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def _inbox_and_automation_on_commit(*, message_id: int, conversation_id: int) -> None:
    """After commit: record the opening of the conversation's cycle, give it to the next
    available agent of its number's team when nobody has it, queue the auto-reply.

    Neither may break webhook processing: a failure is logged (the enqueue logs its own).
    """

    def run() -> None:
        try:
            conversation_opened_record(conversation_id=conversation_id)
        except Exception:
            logger.exception("could not record the opening of conversation %s", conversation_id)
        conversation_route_safely(conversation_id=conversation_id)
        autoreply_enqueue(message_id)

    transaction.on_commit(run)


def _signals_on_commit(message: Message, contact: Contact, *, clicks: bool = True) -> None:
    is_reply = clicks and message.type in REPLY_TYPES
    if not inbound_message_received.has_listeners(Message) and not (
        is_reply and button_clicked.has_listeners(Message)
    ):
        return
    replied_to = _replied_to(message) if is_reply else None

    def send() -> None:
        inbound_message_received.send(sender=Message, message=message, contact=contact)
        if is_reply:
            if message.type == MessageType.BUTTON_REPLY:
                payload = message.content.get("payload") or message.content.get("text") or ""
                title = message.content.get("text") or ""
            else:
                payload = message.content.get("id") or ""
                title = message.content.get("title") or ""
            button_clicked.send(
                sender=Message,
                message=message,
                payload=str(payload),
                title=str(title),
                replied_to=replied_to,
            )

    transaction.on_commit(send)


# --- Consent ----------------------------------------------------------------------------------


def _consent_request(message: Message) -> tuple[str, str, str] | None:
    """(consent, source, note) that a user's message asks for, or None.

    A tap on a marketing opt-out button (`message_opt_out_tap`) opts out whatever the text
    says; otherwise a STOP/START keyword, typed or tapped, decides.
    """
    where = f"WhatsApp message {message.wamid}"
    tap = message_opt_out_tap(message)
    if tap is not None:
        return Consent.OPTED_OUT, ConsentSource.BUTTON, f"{tap.describe()}; {where}"
    consent = _keyword_consent(message.type, message.content or {})
    if consent is not None:
        return consent, ConsentSource.KEYWORD, where
    return None


def _consent_from_user(
    contact: Contact,
    consent: str,
    source: str,
    at: datetime,
    channel: Channel | None,
    message: Message | None = None,
    *,
    note: str = "",
) -> bool:
    """Apply a user's own consent request unless a later change already superseded it."""
    contact.refresh_from_db(fields=["consent", "consent_updated_at", "last_inbound_at"])
    if (contact.consent_updated_at and at < contact.consent_updated_at) or _newer_request(
        contact, at
    ):
        logger.info("consent request for contact %s at %s is older than its state", contact.pk, at)
        return False
    event = consent_set(contact=contact, consent=consent, source=source, note=note, at=at)
    if event is not None and channel is not None and settings.CONSENT_CONFIRMATION_REPLIES:
        _confirmation_reply(contact, consent, channel, message)
    return event is not None


def _newer_request(contact: Contact, at: datetime) -> bool:
    """Did the contact ask for a consent change after `at` (STOP/START, an opt-out button)?
    (It may have changed nothing, and so left no consent event, when it repeated the current
    state.)"""
    later = Message.objects.filter(
        contact=contact,
        direction=Direction.INBOUND,
        type__in=[MessageType.TEXT, MessageType.BUTTON_REPLY],
        received_at__gt=at,
    ).only("direction", "type", "content", "context_wamid", "wamid")[:200]
    return any(_consent_request(message) is not None for message in later)


def _confirmation_reply(
    contact: Contact, consent: str, channel: Channel, message: Message | None
) -> None:
    """Acknowledge STOP/START with a text inside the 24-hour window (priority lane)."""

    text = (
        settings.OPT_OUT_CONFIRMATION_TEXT
        if consent == Consent.OPTED_OUT
        else settings.OPT_IN_CONFIRMATION_TEXT
    )
    try:
        message_send(
            channel=channel,
            contact=contact,
            type="text",
            content={"body": text},
            is_automated=True,
        )
    except SendRefused as exc:
        logger.info("no consent confirmation for contact %s: %s", contact.pk, exc.message)


def user_preference_apply(*, preference: UserPreference, channel: Channel | None = None) -> bool:
    """A marketing stop/resume tapped in WhatsApp (the `user_preferences` webhook).

    Returns True when consent changed.
    """
    if preference.category and preference.category != "marketing_messages":
        logger.info("user preference category %s ignored", preference.category)
        return False
    consent = {"stop": Consent.OPTED_OUT, "resume": Consent.OPTED_IN}.get(preference.value)
    if consent is None:
        logger.info("user preference value %r ignored", preference.value)
        return False
    if not preference.wa_id and not preference.bsuid:
        raise ValueError("user preference without a user (wa_id or user id)")
    contact = contact_resolve(wa_id=preference.wa_id, bsuid=preference.bsuid, create=True)
    at = preference.timestamp or timezone.now()
    return _consent_from_user(contact, consent, ConsentSource.META, at, None)


# --- Templates --------------------------------------------------------------------------------


def template_status_apply(*, update: TemplateStatusUpdate, channels: list[Channel]) -> int:
    """Meta changed a template's status (approved, rejected, paused, reinstated, ...).

    Returns rows; raises ValueError for an update without a name or with an unknown event.
    """
    if not update.name or not update.status:
        raise ValueError("template status update without a name or event")
    updated = templates_status_event_apply(
        channels=channels, name=update.name, language=update.language, event=update.status,
        reason=update.reason, external_id=update.external_id, at=update.timestamp,
        detail=update.detail,
    )  # fmt: skip
    if not updated:
        logger.info("template %s [%s] %s changed no template (not synced yet, or already "
                    "applied)", update.name, update.language, update.status)  # fmt: skip
    return updated


def template_quality_apply(*, update: TemplateQualityUpdate, channels: list[Channel]) -> int:
    """Meta rated a template's quality anew (GREEN, YELLOW, RED)."""
    if not update.name and not update.external_id:
        raise ValueError("template quality update without a template name or id")
    return templates_quality_event_apply(
        channels=channels, name=update.name, language=update.language, quality=update.quality,
        previous=update.previous, external_id=update.external_id,
    )  # fmt: skip


def template_category_apply(*, update: TemplateCategoryUpdate, channels: list[Channel]) -> int:
    """Meta re-categorised a template (or says it will)."""
    if not update.name and not update.external_id:
        raise ValueError("template category update without a template name or id")
    return templates_category_event_apply(
        channels=channels, name=update.name, language=update.language,
        new_category=update.new_category, previous=update.previous,
        correct_category=update.correct_category, external_id=update.external_id,
    )  # fmt: skip


# --- Media ------------------------------------------------------------------------------------


def media_fetch_enqueue(message_id: int) -> None:
    try:
        task("messaging.webhook_fetch_media").delay(message_id)
    except Exception:
        logger.warning("could not enqueue the media download of message %s", message_id)


def _media_filename(message: Message, mime_type: str) -> str:
    name = str(message.content.get("filename") or "").replace("/", "_").replace("\\", "_")
    if name:
        return name[-100:]
    extension = mimetypes.guess_extension((mime_type or "").split(";")[0].strip()) or ".bin"
    return f"{message.uuid}{extension}"


def message_media_fetch(*, message_id: int) -> bool:
    """Download an inbound message's media into `media_file`. True when stored.

    A temporary provider error propagates (the task retries); any other failure is recorded
    in `media_error` and never touches the webhook that brought the message.
    """

    message = Message.objects.select_related("channel").filter(pk=message_id).first()
    if message is None or not message.media_id or message.media_file:
        return False
    try:
        media = provider_for_channel(message.channel).fetch_media(message.media_id)
    except TemporaryError:
        raise
    except (ProviderError, ValueError) as exc:
        media_error_record(message_id=message_id, error=str(exc))
        return False
    message.media_file.save(
        _media_filename(message, media.mime_type), ContentFile(media.content), save=False
    )
    updates: dict[str, Any] = {"media_file": message.media_file.name, "media_error": ""}
    if media.mime_type and not message.content.get("mime_type"):
        updates["content"] = {**message.content, "mime_type": media.mime_type}
    Message.objects.filter(pk=message_id).update(**updates)
    return True


def media_error_record(*, message_id: int, error: str) -> None:
    logger.warning("media of message %s not downloaded: %s", message_id, error)
    Message.objects.filter(pk=message_id).update(media_error=error[:300])
