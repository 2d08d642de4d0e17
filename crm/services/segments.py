"""Write paths over segments."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import Conflict, DomainError
from crm.models import Segment
from crm.segment_filters import segment_filter_clean


class SegmentInvalid(DomainError):
    code = "invalid_segment"


def _clean(filter_data) -> dict:
    try:
        return segment_filter_clean(filter_data)
    except ValidationError as exc:
        details = exc.message_dict if hasattr(exc, "error_dict") else {"filter": exc.messages}
        raise SegmentInvalid("The segment filter is invalid.", details=details) from None


def segment_create(*, name: str, description: str = "", filter: dict, actor=None) -> Segment:
    name = (name or "").strip()
    if not name:
        raise SegmentInvalid("A segment needs a name.", details={"name": ["Required."]})
    clean = _clean(filter)
    try:
        with transaction.atomic():
            return Segment.objects.create(
                name=name, description=description, filter=clean, created_by=actor
            )
    except IntegrityError:
        raise Conflict(f"A segment named {name!r} exists.", code="segment_exists") from None


def segment_update(
    *, segment: Segment, name: str | None = None, description: str | None = None,
    filter: dict | None = None, actor=None,
) -> Segment:  # fmt: skip
    fields = []
    if name is not None:
        segment.name = name.strip()
        fields.append("name")
    if description is not None:
        segment.description = description
        fields.append("description")
    if filter is not None:
        segment.filter = _clean(filter)
        fields.append("filter")
    if fields:
        try:
            with transaction.atomic():
                segment.save(update_fields=[*fields, "updated_at"])
        except IntegrityError:
            raise Conflict(f"A segment named {name!r} exists.", code="segment_exists") from None
    return segment
