"""Click-to-Unlock: answer a tap on a content announcement with the content itself.

Another engineer's auto-reply rules call `content_unlock` when a button payload starts with
one of the `UnlockKind` values; the function is self-contained (it finds the delivery, checks
the advisor, sends, records, signals).
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from crm.models import Contact
from messaging.content.models import ContentDelivery, ContentItem, ContentUnlock, UnlockKind
from messaging.content.rules import quick_reply_buttons, unlock_buttons_clean
from messaging.content.services import SHARE_SUMMARY_CHARS, S, text_summary
from messaging.links.services import (
    URL_RE,
    links_attach_message,
    links_wrap_text,
    short_links_in,
)
from messaging.sending.models import Lane, Message
from messaging.sending.send import SendRefused, message_send
from messaging.signals import content_unlocked

logger = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
DOCUMENT_EXTENSIONS = {".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".txt", ".csv"}
VIDEO_EXTENSIONS = {".mp4", ".3gp"}
PAYLOAD_RE = re.compile(r"^\s*([A-Za-z_]+)\s*[:|]\s*(\d+)\s*$")


# --- Click-to-Unlock ---------------------------------------------------------------------------


def content_payload_parse(payload: str) -> tuple[str | None, int | None]:
    """(kind, delivery id) of `UNLOCK_CONTENT:42`; (kind, None) for a bare kind; else Nones."""
    text = (payload or "").strip()
    match = PAYLOAD_RE.match(text)
    if match:
        kind = match.group(1).upper()
        return (kind if kind in UnlockKind.values else None), int(match.group(2))
    kind = text.upper()
    return (kind if kind in UnlockKind.values else None), None


def _kind_from_title(item: ContentItem, title: str) -> str | None:
    """A tap without our payload carries the button's text: find which button it was."""
    text = (title or "").strip().lower()
    buttons = unlock_buttons_clean(item.unlock_buttons)
    for (_index, label), button in zip(quick_reply_buttons(item.template), buttons, strict=False):
        if text and text in {label.lower(), button["title"].lower()}:
            return button["kind"]
    return None


def _media_type(url: str) -> str:
    path = urlsplit(url).path.lower()
    extension = path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""
    if extension in DOCUMENT_EXTENSIONS:
        return "document"
    if extension in VIDEO_EXTENSIONS:
        return "video"
    return "image"


def _text_message(title: str, body: str) -> str:
    head = f"*{title}*\n\n"
    room = MAX_TEXT - len(head)
    return head + (body if len(body) <= room else body[: room - 1].rstrip() + "…")


def _recent_in_category(delivery: ContentDelivery) -> list[ContentItem]:
    item = delivery.content_item
    if not item.category:
        return []
    since = timezone.now() - timedelta(days=7)
    return list(
        ContentItem.objects.filter(
            category__iexact=item.category,
            state=S.DISTRIBUTED,
            distributed_at__gte=since,
            deliveries__contact_id=delivery.contact_id,
        )
        .exclude(pk=item.pk)
        .order_by("-distributed_at")[:5]
    )


def _unlock_plan(kind: str, delivery: ContentDelivery, contact: Contact) -> list[tuple[str, dict]]:
    """(type, content) of each message that answers a tap of `kind`."""
    item = delivery.content_item
    links = {"contact": contact, "content_item": item}

    def full(extra: str = "") -> tuple[str, dict]:
        body = _text_message(item.title, links_wrap_text(item.body, **links))
        return "text", {"body": (body + extra)[:MAX_TEXT], "preview_url": True}

    media = None
    if item.media_url:
        media_type = _media_type(item.media_url)
        media = {"link": item.media_url, "caption": item.title[:MAX_CAPTION]}
        if media_type == "document":
            media["filename"] = urlsplit(item.media_url).path.rsplit("/", 1)[-1][:240] or "file"
        media = (media_type, media)

    if kind == UnlockKind.UNLOCK_IMAGES:
        return [media] if media else [full()]
    if kind == UnlockKind.RETRIEVE_CONTENT:
        return [full(), media] if media else [full()]
    if kind == UnlockKind.UNLOCK_UPDATES:
        recent = _recent_in_category(delivery)
        lines = "\n".join(f"• {other.title} ({other.send_on:%d %b})" for other in recent)
        return [full(f"\n\nAlso in {item.category} this week:\n{lines}" if recent else "")]
    if kind == UnlockKind.SHARE_WITH_CLIENTS:
        first_url = next(iter(URL_RE.findall(item.body)), "") or item.media_url
        plain = URL_RE.sub("", item.body)
        share = f"*{item.title}*\n\n{text_summary(plain, SHARE_SUMMARY_CHARS)}"
        if first_url:
            share += "\n\nRead more: " + links_wrap_text(first_url.rstrip(".,;:!?)"), **links)
        return [("text", {"body": share, "preview_url": bool(first_url)})]
    return [full()]


def content_unlock(*, payload: str, contact: Contact, context_wamid: str | None) -> Message | None:
    """Answer a Click-to-Unlock tap: send what the button unlocks; return the first message.

    `payload` is the quick-reply payload (`UNLOCK_CONTENT:<delivery id>`, also
    `UNLOCK_IMAGES`, `UNLOCK_UPDATES`, `RETRIEVE_CONTENT`, `SHARE_WITH_CLIENTS`). When it does
    not name a delivery (a tap on a template sent without payloads carries the button text),
    `context_wamid` (the wamid of the announcement the tap replied to) finds it.

    Sends free-form messages in the PRIORITY lane: the tap itself opened the 24-hour window
    (the inbound webhook updates `contact.last_inbound_at` before auto-replies run).
    - UNLOCK_CONTENT: the title and body, links tracked.
    - UNLOCK_IMAGES: the media as an image (document/video by file extension), else the text.
    - UNLOCK_UPDATES: the text plus this week's other items of the category sent to them.
    - RETRIEVE_CONTENT: the text and the media again, every time it is tapped.
    - SHARE_WITH_CLIENTS: a short forwardable version (title, summary, one tracked link).
    Each kind is answered once per delivery; a repeated tap (except RETRIEVE_CONTENT) sends
    nothing and returns None. `unlocked_at` records the first unlock of any kind. Returns
    None, sending nothing, when no delivery of this contact matches, the advisor has been
    disabled, or a send rule refuses (logged). Sends `content_unlocked` after commit.
    """
    kind, delivery_id = content_payload_parse(payload)
    deliveries = ContentDelivery.objects.select_related(
        "content_item", "content_item__template", "message", "advisor"
    ).filter(contact=contact)
    delivery = deliveries.filter(pk=delivery_id).first() if delivery_id else None
    if delivery is None and context_wamid:
        delivery = deliveries.filter(message__wamid=context_wamid).first()
    if delivery is None:
        logger.info("unlock %r by contact %s matches no delivery", payload, contact.pk)
        return None
    if delivery.advisor is not None and not delivery.advisor.is_active:
        logger.info("unlock by disabled advisor %s ignored", delivery.advisor_id)
        return None
    kind = kind or _kind_from_title(delivery.content_item, payload) or UnlockKind.UNLOCK_CONTENT
    channel = (
        delivery.message.channel if delivery.message else delivery.content_item.template.channel
    )
    with transaction.atomic():
        locked = ContentDelivery.objects.select_for_update().get(pk=delivery.pk)
        locked.content_item = delivery.content_item
        if kind != UnlockKind.RETRIEVE_CONTENT and (
            ContentUnlock.objects.filter(delivery=locked, kind=kind).exists()
        ):
            return None
        try:
            with transaction.atomic():
                sent = []
                for type_, content in _unlock_plan(kind, locked, contact):
                    message = message_send(
                        channel=channel, contact=contact, type=type_, content=content,
                        lane=Lane.PRIORITY, is_automated=True,
                    )  # fmt: skip
                    if type_ == "text":
                        links_attach_message(
                            tokens_or_urls=short_links_in(content["body"]), message=message
                        )
                    sent.append(message)
        except SendRefused as exc:
            logger.warning(
                "unlock of delivery %s for contact %s refused: %s", locked.pk, contact.pk, exc
            )
            return None
        first = locked.unlocked_at is None
        if first:
            locked.unlocked_at = timezone.now()
            locked.unlock_message = sent[0]
            locked.save(update_fields=["unlocked_at", "unlock_message"])
        ContentUnlock.objects.create(delivery=locked, kind=kind, message=sent[0])
        transaction.on_commit(
            lambda: content_unlocked.send(
                sender=ContentDelivery,
                delivery=locked,
                kind=kind,
                message=sent[0],
                contact=contact,
                first=first,
            )
        )
    return sent[0]
