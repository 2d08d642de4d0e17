"""Merging duplicate contacts.

Everything that points at the duplicate moves to the kept contact, found generically through
`Contact._meta.related_objects` so crm needs to know nothing of messaging or analytics
(messages, conversations, consent events, an advisor profile, rollups...).

Rows that cannot move because the kept contact already has their twin under a unique
constraint (one conversation per contact and channel, one advisor profile per contact) are
absorbed: whatever points at the duplicate's row (a conversation's messages) moves to the
kept contact's twin, and the duplicate's row is deleted. The kept contact's row wins; its
fields are not merged with the twin's. This is the documented simplification.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, models, transaction
from django.db.models import Q

from core.errors import DomainError
from crm.models import ConsentSource, Contact
from crm.services.contacts import consent_set
from crm.signals import contact_merged

logger = logging.getLogger(__name__)

MAX_DEPTH = 3


def _unique_field_sets(model) -> list[tuple[list[str], Q | None]]:
    sets: list[tuple[list[str], Q | None]] = []
    for field in model._meta.local_fields:
        if field.unique and not field.primary_key:
            sets.append(([field.name], None))
    for together in model._meta.unique_together:
        sets.append((list(together), None))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            sets.append((list(constraint.fields), constraint.condition))
    return sets


def _twin(model, field_name: str, row, target):
    """The row of `target` that stops `row` from being re-pointed to it, if any."""
    manager = model._base_manager
    for fields, condition in _unique_field_sets(model):
        if field_name not in fields:
            continue
        lookup = {field_name: target}
        for name in fields:
            if name != field_name:
                lookup[model._meta.get_field(name).attname] = getattr(
                    row, model._meta.get_field(name).attname
                )
        queryset = manager.filter(**lookup).exclude(pk=row.pk)
        if condition is not None:
            queryset = queryset.filter(condition)
        twin = queryset.first()
        if twin is not None:
            return twin
    return None


def _relations(model):
    """(related model, FK field name) for everything that points at `model`."""
    for rel in model._meta.related_objects:
        if rel.many_to_many:
            through = rel.through
            for field in through._meta.fields:
                if field.is_relation and field.related_model is model:
                    yield through, field.name
        else:
            yield rel.related_model, rel.field.name


def _repoint(model, field_name: str, old, new, depth: int = 0) -> int:
    """Move rows of `model` from `old` to `new`; absorb those that collide. Returns moved."""
    manager = model._base_manager
    rows = manager.filter(**{field_name: old})
    try:
        with transaction.atomic():
            return rows.update(**{field_name: new})
    except IntegrityError:
        pass
    moved = 0
    for row in list(rows):
        try:
            with transaction.atomic():
                manager.filter(pk=row.pk).update(**{field_name: new})
            moved += 1
        except IntegrityError:
            twin = _twin(model, field_name, row, new)
            if twin is None or depth >= MAX_DEPTH:
                raise
            for child_model, child_field in _relations(model):
                _repoint(child_model, child_field, row, twin, depth + 1)
            manager.filter(pk=row.pk).delete()
            logger.info("merge: absorbed %s %s into %s", model._meta.label, row.pk, twin.pk)
    return moved


def contact_merge(*, keep: Contact, duplicate: Contact, actor=None) -> Contact:
    """Fold `duplicate` into `keep` in one transaction and delete `duplicate`.

    Moves messages, conversations, consent events and everything else that points at the
    duplicate; adds its tags; adds its attributes where `keep` has none for that key (the
    kept contact wins on conflicts); fills `keep`'s empty identity fields; takes the more
    recent consent decision (recorded as a `merge` consent event).
    """
    if keep.pk == duplicate.pk:
        raise DomainError("A contact cannot be merged into itself.", code="invalid_merge")
    with transaction.atomic():
        rows = Contact.objects.select_for_update().filter(pk__in=[keep.pk, duplicate.pk])
        locked = {c.pk: c for c in rows}
        if len(locked) != 2:
            raise DomainError("One of the contacts no longer exists.", code="invalid_merge")
        kept, dup = locked[keep.pk], locked[duplicate.pk]
        if kept.erased_at is not None or dup.erased_at is not None:
            raise DomainError("An erased contact cannot be merged.", code="invalid_merge")
        dup_id = dup.pk

        for model, field_name in _relations(Contact):
            if model is Contact.tags.through:
                continue
            _repoint(model, field_name, dup, kept)
        kept.tags.add(*dup.tags.all())

        kept.attributes = {**(dup.attributes or {}), **(kept.attributes or {})}
        for field in ("name", "profile_name", "language", "wa_id"):
            if not getattr(kept, field) and getattr(dup, field):
                setattr(kept, field, getattr(dup, field))
        for field in ("last_inbound_at", "last_outbound_at"):
            values = [v for v in (getattr(kept, field), getattr(dup, field)) if v]
            setattr(kept, field, max(values) if values else None)
        kept.created_at = min(kept.created_at, dup.created_at)
        kept.unread_count += dup.unread_count
        kept.pinned = kept.pinned or dup.pinned
        kept.blocked = kept.blocked or dup.blocked
        take_phone = dup.phone if not kept.phone else None
        take_bsuid = dup.bsuid if not kept.bsuid else None
        newer_consent = dup.consent_updated_at is not None and (
            kept.consent_updated_at is None or dup.consent_updated_at > kept.consent_updated_at
        )
        dup_consent = dup.consent

        Contact.objects.filter(pk=dup_id).delete()
        if take_phone:
            kept.phone = take_phone
        if take_bsuid:
            kept.bsuid = take_bsuid
        kept.save()
        if newer_consent and dup_consent != kept.consent:
            consent_set(
                contact=kept, consent=dup_consent, source=ConsentSource.MERGE, actor=actor,
                note=f"more recent decision of merged contact #{dup_id}",
            )  # fmt: skip
        transaction.on_commit(
            lambda: contact_merged.send(sender=Contact, contact=kept, duplicate_id=dup_id)
        )
    keep.refresh_from_db()
    return keep
