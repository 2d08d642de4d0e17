"""The media library's writes: keep a file once, get a valid media id for a number, renew
ids before they expire, delete.

`media_id_for` is the one way to a media id for a library asset: it returns the number's id
while it has more than MEDIA_ID_RENEW_MARGIN_HOURS left, and otherwise uploads the file
again. A lock in the shared cache (one per asset and number) makes concurrent senders wait
for one upload instead of each uploading; the row is written with a conditional update, so
even a sender that lost its lock (it expired mid-upload) never replaces a newer id with an
older one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import Conflict, DomainError
from core.locks import cache_lock
from core.storage import files_delete_on_commit
from messaging.channels.clients import provider_for_channel
from messaging.channels.models import Channel
from messaging.channels.template_media import HeaderAssetError
from messaging.media.content import asset_ref_id, content_asset_refs, content_assets_replace
from messaging.media.models import MediaAsset, MediaUpload
from messaging.media.rules import HEAD_BYTES, MediaRefused, media_file_check, sha256_of
from messaging.media.selectors import media_assets_of_kind
from messaging.providers import PermanentError, Provider, TemporaryError

logger = logging.getLogger(__name__)


class MediaAssetUnusable(DomainError):
    """A send body names an asset that does not exist or does not fit where it is used."""

    code = "media_asset_unknown"
    status_code = 422


# --- Keeping files -----------------------------------------------------------------------------


def media_asset_create(*, upload, uploaded_by=None) -> tuple[MediaAsset, bool]:
    """Check `upload` (a Django UploadedFile) against WhatsApp's types and limits and keep it.

    Returns (asset, created): the same bytes uploaded again answer with the asset already in
    the library (created False), so a file is kept, and uploaded to each number, once.
    Raises MediaRefused (type, size, empty, content not matching its name).
    """
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    checked = media_file_check(
        name=upload.name, size=upload.size or 0, head=head,
        max_bytes=settings.MEDIA_LIBRARY_MAX_BYTES,
    )  # fmt: skip
    digest = sha256_of(upload)
    existing = MediaAsset.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing, False
    asset = MediaAsset(
        name=checked.name, mime_type=checked.mime_type, kind=checked.kind,
        size=upload.size, sha256=digest, uploaded_by=uploaded_by,
    )  # fmt: skip
    asset.file.save(checked.name, upload, save=False)
    try:
        with transaction.atomic():
            asset.save()
    except IntegrityError:  # the same file arrived at the same moment
        default_storage.delete(asset.file.name)
        return MediaAsset.objects.get(sha256=digest), False
    logger.info("media asset %s kept: %s, %s bytes", asset.pk, asset.mime_type, asset.size)
    return asset, True


def media_asset_delete(*, asset: MediaAsset) -> None:
    """Delete an asset and its file (after commit). Refused while a campaign that has not
    finished uses it as its header; queued messages that name it fail with a clear error."""
    from_campaigns = _campaign_uses(asset)
    if from_campaigns:
        raise Conflict(
            f"Campaign(s) {', '.join(from_campaigns)} use this file; change them first.",
            code="media_asset_in_use",
            details={"campaigns": from_campaigns},
        )
    name = asset.file.name
    with transaction.atomic():
        asset.delete()
        files_delete_on_commit([name])


# Campaigns register who uses an asset (they sit above this room): name -> list of users.
_USERS: list[Any] = []


def media_users_register(finder) -> None:
    """`finder(asset) -> list[str]` names what still needs `asset` (e.g. unfinished
    campaigns); deletion is refused while any finder names something."""
    if finder not in _USERS:
        _USERS.append(finder)


def _campaign_uses(asset: MediaAsset) -> list[str]:
    names: list[str] = []
    for finder in _USERS:
        names.extend(finder(asset))
    return names


# --- Media ids ---------------------------------------------------------------------------------


def _margin() -> timedelta:
    return timedelta(hours=settings.MEDIA_ID_RENEW_MARGIN_HOURS)


def _fresh(asset: MediaAsset, channel: Channel, *, valid_after) -> MediaUpload | None:
    return MediaUpload.objects.filter(
        asset=asset, channel=channel, expires_at__gt=valid_after
    ).first()


def media_upload(
    *, asset: MediaAsset, channel: Channel, provider: Provider | None = None
) -> MediaUpload:
    """Upload `asset` to `channel`'s provider now and keep the id (replacing an older one).
    Raises the provider's errors (TemporaryError: try later; PermanentError: it will not
    take this file; AuthError: the number's credentials)."""
    provider = provider or provider_for_channel(channel)
    if not provider.supports_media_upload:
        raise PermanentError(
            f"{channel.name}'s provider cannot take uploaded media; send this file by link."
        )
    try:
        with asset.file.open("rb") as handle:
            content = handle.read()
    except (FileNotFoundError, OSError) as exc:
        raise PermanentError(f"The library file of asset {asset.pk} is missing.") from exc
    media_id = provider.upload_media(content, mime_type=asset.mime_type, filename=asset.name)
    now = timezone.now()
    expires_at = now + timedelta(days=settings.MEDIA_ID_TTL_DAYS)
    # Conditional: an id uploaded later than ours (another sender whose lock outlived ours)
    # is kept, and ours is simply not used again.
    updated = MediaUpload.objects.filter(
        Q(uploaded_at__lt=now), asset=asset, channel=channel
    ).update(media_id=media_id, uploaded_at=now, expires_at=expires_at, uploads=F("uploads") + 1)
    if not updated:
        try:
            with transaction.atomic():
                MediaUpload.objects.create(
                    asset=asset, channel=channel, media_id=media_id,
                    uploaded_at=now, expires_at=expires_at,
                )  # fmt: skip
        except IntegrityError:
            pass  # a newer row exists: it wins
    logger.info("media asset %s uploaded to channel %s: %s", asset.pk, channel.pk, media_id)
    return MediaUpload.objects.get(asset=asset, channel=channel)


def media_id_for(*, asset: MediaAsset, channel: Channel, provider: Provider | None = None) -> str:
    """A media id for `asset` on `channel` that stays valid for at least the renewal margin,
    uploading the file (once, whoever else asks at the same time) when there is none."""
    now = timezone.now()
    upload = _fresh(asset, channel, valid_after=now + _margin())
    if upload is not None:
        return upload.media_id
    key = f"media-upload:{asset.pk}:{channel.pk}"
    timeout = settings.MEDIA_UPLOAD_LOCK_SECONDS
    deadline = time.monotonic() + timeout
    while True:
        with cache_lock(key, timeout=timeout) as held:
            if held:
                # Someone may have finished an upload between our read and our lock.
                upload = _fresh(asset, channel, valid_after=timezone.now() + _margin())
                if upload is None:
                    upload = media_upload(asset=asset, channel=channel, provider=provider)
                return upload.media_id
        time.sleep(0.2)
        upload = _fresh(asset, channel, valid_after=timezone.now() + _margin())
        if upload is not None:
            return upload.media_id
        if time.monotonic() > deadline:
            raise TemporaryError(f"media asset {asset.pk} is being uploaded by another sender")


def media_ids_renew(*, limit: int = 200) -> dict[str, int]:
    """Upload again the assets used within MEDIA_RENEW_USED_WITHIN_DAYS whose ids expire
    within twice the renewal margin, so a send rarely waits for an upload. Per asset and
    number; a failure is logged and left for the next run (or for the send that needs it)."""
    now = timezone.now()
    due = (
        MediaUpload.objects.filter(
            expires_at__lte=now + 2 * _margin(),
            asset__last_used_at__gte=now - timedelta(days=settings.MEDIA_RENEW_USED_WITHIN_DAYS),
            channel__is_active=True,
        )
        .select_related("asset", "channel")
        .order_by("expires_at")[:limit]
    )
    counts = {"renewed": 0, "failed": 0}
    for upload in due:
        key = f"media-upload:{upload.asset_id}:{upload.channel_id}"
        try:
            with cache_lock(key, timeout=settings.MEDIA_UPLOAD_LOCK_SECONDS) as held:
                if not held:  # a sender is uploading it right now
                    continue
                media_upload(asset=upload.asset, channel=upload.channel)
        except Exception as exc:  # one number's outage must not stop the others
            counts["failed"] += 1
            logger.warning(
                "renewing media asset %s on channel %s failed: %s",
                upload.asset_id, upload.channel_id, exc,
            )  # fmt: skip
        else:
            counts["renewed"] += 1
    return counts


# --- Send bodies ---------------------------------------------------------------------------------


def media_assets_check(*, content: Any, kind: str) -> dict[int, MediaAsset]:
    """The assets a send body names, checked before the message is queued: each exists and
    is of the kind it is used as (an image where an image goes). Raises MediaAssetUnusable."""
    refs = content_asset_refs(content, kind)
    if not refs:
        return {}
    ids = {}
    for used_as, ref in refs:
        asset_id = asset_ref_id(ref)
        if asset_id is None:
            raise MediaAssetUnusable(
                f"{used_as}.asset must be a media library id.", details={"asset": [str(ref)]}
            )
        ids[asset_id] = used_as
    assets = MediaAsset.objects.in_bulk(list(ids))
    for asset_id, used_as in ids.items():
        asset = assets.get(asset_id)
        if asset is None:
            raise MediaAssetUnusable(
                f"No media library file has id {asset_id}.", details={"asset": [asset_id]}
            )
        if asset.kind != used_as:
            raise MediaAssetUnusable(
                f"Library file {asset_id} is a {asset.kind} file, not {used_as}.",
                code="media_asset_kind",
                details={"asset": [asset_id]},
            )
    MediaAsset.objects.filter(pk__in=list(ids)).update(last_used_at=timezone.now())
    return assets


def media_content_placeholders(content: Any, kind: str) -> dict[str, Any]:
    """`content` with a stand-in id for each asset, to check the rest of the body against
    WhatsApp's limits before the real id exists."""
    return content_assets_replace(content, kind, lambda _kind, _ref: {"id": "0"})


@dataclass(frozen=True)
class ResolvedContent:
    content: dict[str, Any]
    media_ids: list[str]


class MediaResolver:
    """Puts a number's media ids in place of library references, for one batch of sends:
    each asset's row and id are looked up once however many messages name it, and
    `last_used_at` is written once at `finish()` (a campaign batch of hundreds of messages
    costs a few queries, not a few per message)."""

    def __init__(self, *, channel: Channel, provider: Provider | None = None) -> None:
        self.channel = channel
        self.provider = provider
        self.assets: dict[int, MediaAsset] = {}
        self.ids: dict[int, str] = {}

    def resolve(self, *, content: Any, kind: str) -> ResolvedContent:
        """The body to send: each reference replaced by the number's valid media id (and a
        document's file name unless the sender gave one). Raises PermanentError when an
        asset is gone, or the provider's errors from an upload."""
        refs = [asset_ref_id(ref) for _, ref in content_asset_refs(content, kind)]
        missing = [i for i in refs if i and i not in self.assets]
        if missing:
            self.assets.update(MediaAsset.objects.in_bulk(missing))
        used: list[str] = []

        def media(used_as: str, ref: Any) -> dict[str, Any]:
            asset = self.assets.get(asset_ref_id(ref) or 0)
            if asset is None:
                raise PermanentError(
                    f"Media library file {ref} was deleted before this message was sent.",
                    title="Media library file deleted",
                )
            if asset.pk not in self.ids:
                self.ids[asset.pk] = media_id_for(
                    asset=asset, channel=self.channel, provider=self.provider
                )
            used.append(self.ids[asset.pk])
            fields: dict[str, Any] = {"id": self.ids[asset.pk]}
            if used_as == "document":
                fields["filename"] = asset.name
            return fields

        return ResolvedContent(content=content_assets_replace(content, kind, media), media_ids=used)

    def finish(self) -> None:
        if self.ids:
            MediaAsset.objects.filter(pk__in=list(self.ids)).update(last_used_at=timezone.now())


def media_content_resolve(
    *, content: Any, kind: str, channel: Channel, provider: Provider | None = None
) -> ResolvedContent:
    """One body resolved on its own (see MediaResolver)."""
    resolver = MediaResolver(channel=channel, provider=provider)
    resolved = resolver.resolve(content=content, kind=kind)
    resolver.finish()
    return resolved


__all__ = [
    "MediaAssetUnusable",
    "MediaRefused",
    "MediaResolver",
    "library_header_examples",
    "media_asset_create",
    "media_asset_delete",
    "media_assets_check",
    "media_content_placeholders",
    "media_content_resolve",
    "media_header_example",
    "media_id_for",
    "media_ids_renew",
    "media_upload",
    "media_users_register",
]


# --- Template header examples ------------------------------------------------------------------

HEADER_FORMATS = {"image": "IMAGE", "video": "VIDEO", "document": "DOCUMENT"}


def media_header_example(*, asset: MediaAsset, channel: Channel) -> dict[str, Any]:
    """The HEADER component of a template definition whose example is library file `asset`:
    `{"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::..."]}}`.

    For the template builder: Meta wants a resumable-upload handle (not a media id) in a new
    or edited template's media header, made through the number's provider (the Meta app of
    WHATSAPP_APP_ID). A handle serves one submission, so none is kept. Raises MediaRefused
    for a file no template header takes (audio, stickers), PermanentError when the provider
    cannot take examples, and the provider's errors."""
    header_format = HEADER_FORMATS.get(asset.kind)
    if header_format is None:
        raise MediaRefused(
            f"A template header cannot show {asset.kind} files (image, video or document only).",
            code="upload_type_refused",
            details={"asset": [asset.pk]},
        )
    provider = provider_for_channel(channel)
    if not provider.supports_header_examples:
        raise PermanentError(f"{channel.name}'s provider cannot take template header examples.")
    try:
        with asset.file.open("rb") as handle:
            content = handle.read()
    except (FileNotFoundError, OSError) as exc:
        raise PermanentError(f"The library file of asset {asset.pk} is missing.") from exc
    handle = provider.upload_header_example(content, mime_type=asset.mime_type, filename=asset.name)
    logger.info("media asset %s uploaded as a template header example", asset.pk)
    return {"type": "HEADER", "format": header_format, "example": {"header_handle": [handle]}}


class LibraryHeaderExamples:
    """The library as the template builder's source of media header examples
    (`messaging.channels.template_media`, registered in `MessagingConfig.ready()`)."""

    KIND_OF = {header_format: kind for kind, header_format in HEADER_FORMATS.items()}

    def choices(self, header_format: str) -> list[tuple[int, str]]:
        kind = self.KIND_OF.get(header_format)
        if kind is None:
            return []
        return list(media_assets_of_kind(kind).values_list("pk", "name")[:LIBRARY_CHOICES_MAX])

    def problem(self, asset_id: int, header_format: str) -> str | None:
        kind = MediaAsset.objects.filter(pk=asset_id).values_list("kind", flat=True).first()
        if kind is None:
            return f"Library file {asset_id} does not exist (it may have been deleted)."
        if HEADER_FORMATS.get(kind) != header_format:
            wanted = self.KIND_OF.get(header_format, "image, video or document")
            return (
                f"Library file {asset_id} is {_article(kind)} {kind}; this header shows "
                f"{_article(wanted)} {wanted}."
            )
        return None

    def resolve(self, asset_id: int, header_format: str, channel: Channel) -> str:
        problem = self.problem(asset_id, header_format)
        if problem:
            raise HeaderAssetError(problem, details={"header.example": [problem]})
        asset = MediaAsset.objects.filter(pk=asset_id).first()
        if asset is None:  # deleted between the check and now
            raise HeaderAssetError(f"Library file {asset_id} does not exist.")
        component = media_header_example(asset=asset, channel=channel)
        return component["example"]["header_handle"][0]


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


LIBRARY_CHOICES_MAX = 200
library_header_examples = LibraryHeaderExamples()
