"""Tracked links: `/l/<token>` records a click, then redirects to the one stored URL.

`link_wrap` stores one link and returns its short URL; `links_wrap_text` does it for every
http(s) URL in a text. A bulk sender (a campaign materialising thousands of messages) uses
`TrackedLinkBatch`: tokens are made in Python, so `wrap` costs no query and `save` writes the
whole batch in one INSERT.

The redirect target is only ever the URL stored at wrap time, and only http(s) URLs are
stored, so `/l/` can never be used as an open redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from core.errors import DomainError
from messaging.links.models import LinkClick, TrackedLink
from messaging.sending.engagement import click_mark
from messaging.sending.models import Message
from messaging.signals import link_clicked

# An http(s) URL in running text; trailing punctuation is not part of it.
URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
BOT_MARKERS = ("bot", "crawler", "spider", "facebookexternalhit", "whatsapp/", "preview")
USER_AGENT_MAX = 300


class InvalidLink(DomainError):
    code = "invalid_link"


def link_token() -> str:
    return secrets.token_urlsafe(8)


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidLink(f"Only http(s) links can be tracked, not {url[:80]!r}.")
    if len(url) > 2048:
        raise InvalidLink("The link is longer than 2,048 characters.")
    return url


def link_public_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/l/{token}"


def _ids(contact, message, campaign, content_item) -> dict:
    def pk(value):
        return getattr(value, "pk", value)

    return {
        "contact_id": pk(contact),
        "message_id": pk(message),
        "campaign_id": pk(campaign),
        "content_item_id": pk(content_item),
    }


def link_wrap(*, url: str, contact=None, message=None, campaign=None, content_item=None) -> str:
    """Store a tracked link to `url` and return its short URL (`PUBLIC_BASE_URL/l/<token>`).

    Each argument may be a model instance or its id. Raises InvalidLink for non-http(s) URLs.
    """
    url = _clean_url(url)
    for _ in range(5):
        token = link_token()
        try:
            with transaction.atomic():
                TrackedLink.objects.create(
                    token=token, url=url, **_ids(contact, message, campaign, content_item)
                )
        except IntegrityError:  # a token collision (2^-64 per pair); draw again
            continue
        return link_public_url(token)
    raise RuntimeError("could not draw a unique link token")


@dataclass
class TrackedLinkBatch:
    """Wrap links for many messages, then store them with one INSERT (`save`).

    Call `save()` inside the transaction that writes the messages, before it commits.
    """

    links: list[TrackedLink] = field(default_factory=list)

    def wrap(self, *, url: str, contact=None, message=None, campaign=None, content_item=None):
        url = _clean_url(url)
        token = link_token()
        self.links.append(
            TrackedLink(token=token, url=url, **_ids(contact, message, campaign, content_item))
        )
        return link_public_url(token)

    def wrap_text(self, text: str, **ctx) -> str:
        return _replace_urls(text, lambda url: self.wrap(url=url, **ctx))

    def save(self) -> int:
        if not self.links:
            return 0
        TrackedLink.objects.bulk_create(self.links, batch_size=1000)
        count, self.links = len(self.links), []
        return count


def _replace_urls(text: str, wrap) -> str:
    def replace(match: re.Match) -> str:
        raw = match.group(0)
        url = raw.rstrip(_TRAILING)
        # Keep a closing parenthesis that belongs to the URL (Wikipedia-style links).
        if raw[len(url) :].startswith(")") and url.count("(") > url.count(")"):
            url += ")"
        tail = raw[len(url) :]
        try:
            return wrap(url) + tail
        except InvalidLink:
            return raw

    return URL_RE.sub(replace, text or "")


def links_wrap_text(text: str, **ctx) -> str:
    """`text` with every http(s) URL replaced by a tracked link (`ctx` as for link_wrap)."""
    return _replace_urls(text, lambda url: link_wrap(url=url, **ctx))


def links_attach_message(*, tokens_or_urls: list[str], message) -> int:
    """Point links made before their message existed at it (by short URL or token)."""
    tokens = [value.rstrip("/").rsplit("/", 1)[-1] for value in tokens_or_urls]
    if not tokens:
        return 0
    return TrackedLink.objects.filter(token__in=tokens, message__isnull=True).update(
        message=message
    )


def short_links_in(text: str) -> list[str]:
    """The tracked short URLs in `text` (to attach them to the message that carries it)."""
    prefix = link_public_url("")
    return [url for url in URL_RE.findall(text or "") if url.startswith(prefix)]


def ip_hash(ip: str) -> str:
    """A keyed hash of the client address: counts unique clickers without storing IPs."""
    if not ip:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), ip.encode(), hashlib.sha256).hexdigest()


def is_bot(user_agent: str) -> bool:
    agent = (user_agent or "").lower()
    return not agent or any(marker in agent for marker in BOT_MARKERS)


def link_message_id(link: TrackedLink) -> int | None:
    """The outbound message a click on `link` credits: the one it was sent in, or for a
    campaign's link (wrapped before its message existed) the campaign's message to the
    contact (one per contact)."""
    if link.message_id is not None:
        return link.message_id
    if link.campaign_id is None or link.contact_id is None:
        return None
    return (
        Message.objects.filter(campaign_id=link.campaign_id, contact_id=link.contact_id)
        .values_list("pk", flat=True)
        .first()
    )


def link_click_record(
    *, token: str, user_agent: str = "", ip: str = "", record: bool = True
) -> TrackedLink | None:
    """Record a click on `token` and return its link (None: unknown token, nothing recorded).

    `record=False` only looks the link up (HEAD requests are not clicks).
    """
    link = TrackedLink.objects.filter(token=token).first()
    if link is None or not record:
        return link
    with transaction.atomic():
        click = LinkClick.objects.create(
            link=link,
            user_agent=(user_agent or "")[:USER_AGENT_MAX],
            ip_hash=ip_hash(ip),
            is_bot=is_bot(user_agent),
        )
        if not click.is_bot:
            click_mark(message_id=link_message_id(link), at=click.clicked_at)
        transaction.on_commit(lambda: link_clicked.send(sender=TrackedLink, link=link, click=click))
    return link
