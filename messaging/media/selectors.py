"""Reads over the media library."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from messaging.media.models import MediaAsset, MediaUpload
from messaging.media.rules import MEDIA_TYPES

KINDS = sorted({kind.kind for kind in MEDIA_TYPES.values()})


def media_asset_list(*, kind: str = "", search: str = "") -> QuerySet[MediaAsset]:
    """The library, newest first, with each asset's ids per number (one query for them)."""
    assets = MediaAsset.objects.select_related("uploaded_by").prefetch_related(
        Prefetch(
            "uploads", queryset=MediaUpload.objects.select_related("channel").order_by("channel_id")
        )
    )
    if kind in KINDS:
        assets = assets.filter(kind=kind)
    if search:
        assets = assets.filter(name__icontains=search)
    return assets.order_by("-created_at", "-id")


def media_assets_of_kind(kind: str) -> QuerySet[MediaAsset]:
    """What may fill a media slot of `kind` (a template's image header, an image reply)."""
    return MediaAsset.objects.filter(kind=kind).order_by("-created_at", "-id")


def media_assets_newest() -> QuerySet[MediaAsset]:
    return MediaAsset.objects.order_by("-created_at", "-id")
