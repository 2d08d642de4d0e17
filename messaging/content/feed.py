"""Content feed: entries of a JSON, RSS 2.0 or Atom feed become content drafts.

The fetch leaves this machine on our behalf, so it is guarded like media links: the URL (and
every redirect) must pass `core.ssrf.url_check_public`, the response is read up to
CONTENT_FEED_MAX_BYTES, and every call has a timeout. This is not a WhatsApp call, so it uses
`requests` directly rather than a provider. XML is parsed only after refusing any DOCTYPE or
ENTITY declaration, which rules out entity expansion ("billion laughs") and external
entities; what remains is plain elements, which `xml.etree` parses safely.

Entries are deduplicated by guid (the unique `feed_guid`), so importing the same feed again
creates nothing twice; new entries become drafts (source `feed`) that an author completes
(date, target, template) and submits for review.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.db import transaction
from django.utils.html import strip_tags

from core.errors import DomainError
from core.ssrf import UnsafeUrl, url_check_public
from messaging.content.models import ContentItem, ContentSource, ContentState, ContentTransition

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
_FORBIDDEN_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")


class FeedError(DomainError):
    code = "feed_error"
    status_code = 422


@dataclass
class FeedEntry:
    guid: str
    title: str
    body: str
    link: str = ""
    image: str = ""
    category: str = ""


@dataclass
class FeedImportResult:
    created: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "skipped": self.skipped, "errors": self.errors}


# --- Fetching ----------------------------------------------------------------------------------


def feed_fetch(url: str) -> bytes:
    """The feed's bytes, following at most a few redirects, each one checked again."""
    for _ in range(MAX_REDIRECTS + 1):
        try:
            url_check_public(url)
        except UnsafeUrl as exc:
            raise FeedError(f"Feed URL refused: {exc.message}") from exc
        try:
            response = requests.get(
                url,
                timeout=(settings.PROVIDER_CONNECT_TIMEOUT, settings.CONTENT_FEED_TIMEOUT),
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/json, application/rss+xml, application/xml"},
            )
        except requests.RequestException as exc:
            raise FeedError(f"Feed could not be fetched: {exc.__class__.__name__}.") from exc
        with response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("Location", ""))
                continue
            if response.status_code != 200:
                raise FeedError(f"Feed answered HTTP {response.status_code}.")
            return _read_capped(response)
    raise FeedError("Feed redirected too many times.")


def _read_capped(response) -> bytes:
    limit = settings.CONTENT_FEED_MAX_BYTES
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FeedError(f"Feed is larger than {limit:,} bytes.")
    data = bytearray()
    for chunk in response.iter_content(chunk_size=65536):
        data.extend(chunk)
        if len(data) > limit:
            raise FeedError(f"Feed is larger than {limit:,} bytes.")
    return bytes(data)


# --- Parsing -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Plain text from a feed value that may hold HTML."""
    if value is None:
        return ""
    text = html.unescape(strip_tags(str(value)))
    return re.sub(r"[ \t]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()


def _guid(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def feed_parse(data: bytes) -> list[FeedEntry]:
    """Entries of a JSON list (or `{"items": [...]}`), RSS 2.0 or Atom document."""
    start = data.lstrip()[:1]
    if start in (b"[", b"{"):
        return _parse_json(data)
    if start == b"<" or data.startswith(b"\xef\xbb\xbf<"):
        return _parse_xml(data)
    raise FeedError("The feed is neither JSON nor XML.")


def _parse_json(data: bytes) -> list[FeedEntry]:
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise FeedError(f"The feed is not valid JSON: {exc}.") from exc
    items = document.get("items") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise FeedError("A JSON feed is a list of entries (or an object with `items`).")
    entries = []
    for raw in items:
        if not isinstance(raw, dict):
            continue
        title = _text(raw.get("title"))
        link = str(raw.get("link") or raw.get("url") or "").strip()
        body = _text(raw.get("body") or raw.get("summary") or raw.get("content_text") or "")
        guid = str(raw.get("guid") or raw.get("id") or "").strip() or _guid(title, link)
        image = raw.get("image") or raw.get("image_url") or ""
        entries.append(
            FeedEntry(
                guid=guid, title=title, body=body, link=link, image=str(image).strip(),
                category=_text(raw.get("category")),
            )
        )  # fmt: skip
    return entries


def _parse_xml(data: bytes) -> list[FeedEntry]:
    if _FORBIDDEN_XML.search(data):
        raise FeedError("The feed declares a DOCTYPE or entities, which are refused.")
    try:
        root = ET.fromstring(data)  # noqa: S314 - DOCTYPE/ENTITY refused above
    except ET.ParseError as exc:
        raise FeedError(f"The feed is not well-formed XML: {exc}.") from exc
    if root.tag == f"{ATOM}feed":
        return [_atom_entry(e) for e in root.findall(f"{ATOM}entry")]
    channel = root.find("channel")
    if root.tag == "rss" and channel is not None:
        return [_rss_item(i) for i in channel.findall("item")]
    raise FeedError("The XML is neither RSS 2.0 nor Atom.")


def _rss_item(item: ET.Element) -> FeedEntry:
    title = _text(item.findtext("title"))
    link = (item.findtext("link") or "").strip()
    body = _text(item.findtext("description") or item.findtext(f"{MEDIA}description") or "")
    guid = (item.findtext("guid") or "").strip() or _guid(title, link)
    image = ""
    for candidate in (item.find("enclosure"), item.find(f"{MEDIA}content")):
        if candidate is not None and candidate.get("url"):
            kind = candidate.get("type") or candidate.get("medium") or ""
            if not kind or kind.startswith("image"):
                image = candidate.get("url", "")
                break
    if not image:
        thumbnail = item.find(f"{MEDIA}thumbnail")
        image = thumbnail.get("url", "") if thumbnail is not None else ""
    return FeedEntry(
        guid=guid, title=title, body=body, link=link, image=image.strip(),
        category=_text(item.findtext("category")),
    )  # fmt: skip


def _atom_entry(entry: ET.Element) -> FeedEntry:
    title = _text(entry.findtext(f"{ATOM}title"))
    link, image = "", ""
    for element in entry.findall(f"{ATOM}link"):
        rel = element.get("rel", "alternate")
        if rel == "alternate" and not link:
            link = element.get("href", "")
        elif rel == "enclosure" and (element.get("type") or "image").startswith("image"):
            image = image or element.get("href", "")
    body = _text(entry.findtext(f"{ATOM}summary") or entry.findtext(f"{ATOM}content") or "")
    guid = (entry.findtext(f"{ATOM}id") or "").strip() or _guid(title, link)
    category = entry.find(f"{ATOM}category")
    return FeedEntry(
        guid=guid, title=title, body=body, link=link.strip(), image=image.strip(),
        category=category.get("term", "") if category is not None else "",
    )  # fmt: skip


# --- Import ------------------------------------------------------------------------------------


def _safe_media(url: str) -> str:
    if not url or len(url) > 2048:
        return ""
    try:
        return url_check_public(url)
    except UnsafeUrl:
        return ""


def _draft(entry: FeedEntry) -> ContentItem | None:
    title = entry.title[:200].strip()
    if not title or not entry.guid:
        return None
    body = entry.body or title
    link = entry.link if entry.link.startswith(("http://", "https://")) else ""
    if link and link not in body:
        body = f"{body}\n\n{link}"
    return ContentItem(
        title=title,
        body=body,
        media_url=_safe_media(entry.image),
        category=entry.category[:64],
        source=ContentSource.FEED,
        feed_guid=entry.guid[:500],
        source_url=link[:2048],
        state=ContentState.DRAFT,
    )


def content_feed_import(*, url: str | None = None) -> FeedImportResult:
    """Fetch the feed (default CONTENT_FEED_URL) and create a draft per new entry.

    Returns counts; a feed that cannot be fetched or parsed gives an error, not an exception.
    """
    url = url if url is not None else settings.CONTENT_FEED_URL
    result = FeedImportResult()
    if not url:
        return result
    try:
        entries = feed_parse(feed_fetch(url))[: settings.CONTENT_FEED_MAX_ITEMS]
    except FeedError as exc:
        logger.warning("content feed %s not imported: %s", url, exc.message)
        result.errors.append(exc.message)
        return result
    drafts = {}
    for entry in entries:
        draft = _draft(entry)
        if draft is None or draft.feed_guid in drafts:
            result.skipped += 1
        else:
            drafts[draft.feed_guid] = draft
    known = set(
        ContentItem.objects.filter(feed_guid__in=list(drafts)).values_list("feed_guid", flat=True)
    )
    new = [d for guid, d in drafts.items() if guid not in known]
    result.skipped += len(drafts) - len(new)
    with transaction.atomic():
        ContentItem.objects.bulk_create(new, ignore_conflicts=True)
        created = list(
            ContentItem.objects.filter(
                feed_guid__in=[d.feed_guid for d in new], transitions__isnull=True
            ).values_list("pk", flat=True)
        )
        ContentTransition.objects.bulk_create(
            [
                ContentTransition(content_item_id=pk, to_state=ContentState.DRAFT,
                                  note="imported from the feed")
                for pk in created
            ]
        )  # fmt: skip
    result.created = len(created)
    result.skipped += len(new) - len(created)
    logger.info("content feed %s: %s", url, result.as_dict())
    return result
