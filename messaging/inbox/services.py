"""The shared inbox: replies, media, assignment, close and reopen, read marks, ratings.

Every outbound reply, an agent's or an automated one, goes through
`conversation_outbound_record`, which keeps the conversation's last activity and its first
response time (the first reply after the cycle's first unanswered inbound message). Agent
replies go through `conversation_reply*`; the window and every other send rule are enforced
by `message_send` (free text outside the 24-hour window is refused with `window_closed`).
"""

from __future__ import annotations

import logging
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError, InvalidTransition
from crm.models import Contact
from messaging.automation.models import AutomatedAnswer
from messaging.channels.clients import provider_for_channel
from messaging.channels.models import Channel, MessageTemplate
from messaging.inbox.survey import survey_send
from messaging.media.models import MediaAsset
from messaging.media.rules import MediaRefused, media_file_check
from messaging.media.services import media_asset_create, media_id_for
from messaging.providers import PermanentError, ProviderError
from messaging.sending.conversations import (
    NOT_FROM_USER,
    conversation_outbound_record,
    cycle_start,
    read_mark_enqueue_on_commit,
)
from messaging.sending.models import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Message,
)
from messaging.sending.policy import SendKind, send_policy_check
from messaging.sending.send import SendRefused, message_send, template_content_build
from messaging.signals import answer_rated, conversation_closed

logger = logging.getLogger(__name__)


LINK_TYPES = ("image", "video", "audio", "document")


class UploadRefused(SendRefused):
    code = "upload_refused"


# --- Replies --------------------------------------------------------------------------------------


def conversation_reply(
    *,
    conversation: Conversation,
    user,
    type: str,
    content: dict[str, Any],
    context_wamid: str = "",
) -> Message:
    """An agent's reply: every send rule applies (SendRefused says which one refused)."""
    with transaction.atomic():
        message = message_send(
            channel=conversation.channel,
            contact=conversation.contact,
            type=type,
            content=content,
            context_wamid=context_wamid,
            sent_by=user,
        )
        conversation_outbound_record(conversation=conversation, message=message, automated=False)
        conversation_mark_read(conversation=conversation)
    return message


def conversation_reply_text(*, conversation: Conversation, user, body: str) -> Message:
    body = (body or "").strip()
    if not body:
        raise SendRefused("Write a message first.", code="invalid_message")
    return conversation_reply(
        conversation=conversation, user=user, type="text",
        content={"body": body, "preview_url": "http" in body},
    )  # fmt: skip


def conversation_reply_template(
    *, conversation: Conversation, user, template: MessageTemplate, values: dict[str, Any]
) -> Message:
    """Send `template` with `values` (`{"header": [...], "body": [...] or {...},
    "buttons": {"0": "..."}, "header_media_link": "..."}`), e.g. outside the window."""
    if template.channel_id != conversation.channel_id:
        raise SendRefused("This template belongs to another number.", code="template_unknown")
    content = template_content_build(
        template=template,
        body=values.get("body") or None,
        header=values.get("header") or None,
        header_media_link=values.get("header_media_link") or None,
        button_url_values=values.get("buttons") or None,
    )
    return conversation_reply(
        conversation=conversation, user=user, type="template", content=content
    )


def conversation_reply_media_link(
    *, conversation: Conversation, user, kind: str, link: str, caption: str = ""
) -> Message:
    """Media by public link; `message_send` refuses private or loopback hosts (SSRF)."""
    if kind not in LINK_TYPES:
        raise SendRefused(f"Cannot send {kind!r} by link.", code="invalid_message")
    content: dict[str, Any] = {"link": (link or "").strip()}
    if caption.strip() and kind != "audio":
        content["caption"] = caption.strip()
    return conversation_reply(conversation=conversation, user=user, type=kind, content=content)


def upload_check(*, name: str, size: int, head: bytes) -> tuple[str, str]:
    """(MIME type, WhatsApp type) of an upload, or UploadRefused with the reason: the media
    library's rules (`messaging.media.rules`) under the reply box's INBOX_UPLOAD_MAX_BYTES."""
    try:
        checked = media_file_check(
            name=name, size=size, head=head, max_bytes=settings.INBOX_UPLOAD_MAX_BYTES
        )
    except MediaRefused as exc:
        raise UploadRefused(exc.message, code=exc.code, details=exc.details) from exc
    return checked.mime_type, checked.kind


def _window_check(conversation: Conversation) -> None:
    refusal = send_policy_check(
        contact=conversation.contact, channel=conversation.channel, kind=SendKind.SERVICE,
        needs_window=True,
    )  # fmt: skip
    if refusal is not None:
        raise refusal.error()


def conversation_reply_asset(
    *, conversation: Conversation, user, asset: MediaAsset, caption: str = ""
) -> Message:
    """A media library file as a reply, sent by the number's media id. The id is made ready
    now (uploaded when the number has none or it expires soon), so a provider that will not
    take the file is the agent's to see, not a failed message; the dispatcher reuses it."""
    _window_check(conversation)
    channel = conversation.channel
    try:
        provider = provider_for_channel(channel)
        if not provider.supports_media_upload:
            raise SendRefused(
                "This number's provider cannot take uploads: send the media by link.",
                code="upload_unsupported",
            )
        media_id = media_id_for(asset=asset, channel=channel, provider=provider)
    except ProviderError as exc:
        logger.warning("media upload for conversation %s failed: %s", conversation.pk, exc)
        raise SendRefused(
            f"WhatsApp did not take the file: {exc.message}", code="upload_failed"
        ) from exc
    content: dict[str, Any] = {"asset": asset.pk}
    if caption.strip() and asset.kind not in ("audio", "sticker"):
        content["caption"] = caption.strip()
    message = conversation_reply(
        conversation=conversation, user=user, type=asset.kind, content=content
    )
    Message.objects.filter(pk=message.pk).update(media_id=media_id)
    message.media_id = media_id
    return message


def conversation_reply_media_upload(
    *, conversation: Conversation, user, upload, caption: str = ""
) -> Message:
    """Media from the agent's computer: checked (type, size), kept in the media library
    (the same file again is the same asset), sent by the number's media id (WhatsApp's
    recommended way). The conversation keeps its own copy under MEDIA_ROOT, which retention
    and erasure treat as the conversation's content; the library's is a business asset."""
    name = PurePath(upload.name or "upload").name[-100:]
    head = upload.read(16)
    upload.seek(0)
    upload_check(name=name, size=upload.size or 0, head=head)
    _window_check(conversation)  # before the file leaves for the provider
    try:
        asset, _created = media_asset_create(upload=upload, uploaded_by=user)
    except MediaRefused as exc:
        raise UploadRefused(exc.message, code=exc.code, details=exc.details) from exc
    message = conversation_reply_asset(
        conversation=conversation, user=user, asset=asset, caption=caption
    )
    upload.seek(0)
    message.media_file.save(asset.name, ContentFile(upload.read()), save=False)
    Message.objects.filter(pk=message.pk).update(media_file=message.media_file.name)
    return message


# --- Conversation state ---------------------------------------------------------------------------


def _cycle_first_response_seconds(conversation: Conversation) -> float | None:
    return (
        ConversationEvent.objects.filter(
            conversation=conversation,
            kind=ConversationEventKind.FIRST_RESPONSE,
            at__gte=cycle_start(conversation),
        )
        .order_by("at")
        .values_list("seconds", flat=True)
        .first()
    )


def conversation_close(*, conversation: Conversation, actor) -> Conversation:
    """Close an open conversation; `conversation_closed` is sent after commit.

    The close event keeps who handled the cycle (the assignee, else whoever closed it) and
    how long it took since it opened (the resolution time of the agent report). On numbers
    that opted in, the customer is asked for a rating (`messaging.inbox.survey`).
    """
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Conversation.objects.select_for_update()
            .select_related("channel", "contact")
            .get(pk=conversation.pk)
        )
        if not locked.is_open:
            raise InvalidTransition("The conversation is already closed.")
        handler_id = locked.assignee_id or (actor.pk if actor else None)
        resolution = max(0.0, (now - cycle_start(locked)).total_seconds())
        Conversation.objects.filter(pk=locked.pk).update(
            is_open=False, closed_at=now, closed_by=actor
        )
        ConversationEvent.objects.create(
            conversation=locked, kind=ConversationEventKind.CLOSED, at=now, actor=actor,
            assignee_id=handler_id, seconds=resolution,
        )  # fmt: skip
        seconds = _cycle_first_response_seconds(locked)
        automated = locked.first_response_automated and seconds is not None
        conversation.is_open, conversation.closed_at, conversation.closed_by = False, now, actor
        survey_send(conversation=locked, closed_at=now, agent_id=handler_id)
        transaction.on_commit(
            lambda: conversation_closed.send(
                sender=Conversation,
                conversation=conversation,
                closed_by=actor,
                at=now,
                first_response_seconds=seconds,
                first_response_automated=automated,
            )
        )
    return conversation


def conversation_reopen(*, conversation: Conversation, actor) -> Conversation:
    """Open a closed conversation again: a new cycle starts now."""
    now = timezone.now()
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.is_open:
            raise InvalidTransition("The conversation is already open.")
        Conversation.objects.filter(pk=locked.pk).update(
            is_open=True, opened_at=now, closed_at=None, closed_by=None, last_activity_at=now,
            first_response_at=None, first_response_automated=False,
        )  # fmt: skip
        ConversationEvent.objects.create(
            conversation=locked, kind=ConversationEventKind.OPENED, at=now, actor=actor
        )
    conversation.is_open, conversation.opened_at = True, now
    conversation.closed_at = conversation.closed_by = conversation.first_response_at = None
    conversation.first_response_automated = False
    return conversation


def conversation_mark_read(*, conversation: Conversation, typing: bool = False) -> str | None:
    """Clear the unread badge now; tell WhatsApp (blue ticks) in the background, so the page
    never waits on the provider. Returns the wamid that will be marked read.

    `typing` also shows the contact a typing indicator (until our reply, at most 25 s): for
    an agent who opens the conversation to answer it, never after a reply has gone out.
    """
    Contact.objects.filter(pk=conversation.contact_id).update(unread_count=0)
    conversation.contact.unread_count = 0
    wamid = (
        Message.objects.filter(
            conversation=conversation, direction=Direction.INBOUND, wamid__isnull=False
        )
        .exclude(type__in=NOT_FROM_USER)
        .order_by("-received_at", "-pk")
        .values_list("wamid", flat=True)
        .first()
    )
    if wamid:
        read_mark_enqueue_on_commit(channel_id=conversation.channel_id, wamid=wamid, typing=typing)
    return wamid


def provider_mark_read(*, channel_id: int, wamid: str, typing: bool = False) -> bool:
    """Tell the provider that `wamid` was read, with a typing indicator when `typing`.
    Temporary errors propagate (the task retries)."""

    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        return False
    try:
        provider_for_channel(channel).mark_read(wamid, typing=typing)
    except PermanentError as exc:
        logger.info("read mark of %s refused: %s", wamid, exc)
        return False
    return True


# --- Ratings --------------------------------------------------------------------------------------


def answer_rate(*, answer: AutomatedAnswer, rating: int, user) -> AutomatedAnswer:
    """An agent's 1-to-5 rating of an automated answer (a later rating replaces it)."""
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise DomainError("A rating is a whole number from 1 to 5.", code="invalid_rating")
    previous = answer.rating
    now = timezone.now()
    with transaction.atomic():
        AutomatedAnswer.objects.filter(pk=answer.pk).update(
            rating=rating, rated_by=user, rated_at=now
        )
        answer.rating, answer.rated_by, answer.rated_at = rating, user, now
        transaction.on_commit(
            lambda: answer_rated.send(
                sender=AutomatedAnswer,
                answer=answer,
                rating=rating,
                previous=previous,
                rated_by=user,
                at=now,
            )
        )
    return answer
