"""Writing one batch of validated rows: upserts by normalised phone in a handful of queries.

Per batch: one SELECT ... FOR UPDATE of the contacts already there (locked, so a concurrent
STOP cannot be overwritten), their tags (and advisor profiles); then one INSERT ... ON
CONFLICT (phone) DO UPDATE for every contact that changes, and bulk inserts of tag links,
consent events (source `import`) and advisor profiles. On PostgreSQL the rows travel by COPY
through temporary staging tables; elsewhere through the ORM's bulk_create. Rows are applied
in file order against an in-memory state, so a phone repeated in the batch ends as the file
says and is counted created once, then updated or left unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from crm.identity import erased_opt_outs
from crm.importing.rows import Row
from crm.models import Advisor, Consent, ConsentEvent, ConsentSource, Contact, Tag

CONTACT_UPDATE_FIELDS = ["name", "language", "attributes", "consent", "consent_updated_at",
                         "updated_at"]  # fmt: skip
ADVISOR_UPDATE_FIELDS = ["firm", "region", "tier", "content_preferences", "onboarded_on",
                         "updated_at"]  # fmt: skip


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    # (contact id, previous, new) for every contact whose consent this batch changed
    consent_changes: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class _State:
    pk: int | None
    name: str
    language: str
    consent: str
    consent_updated_at: Any
    attributes: dict
    tags: set[str]
    advisor: dict | None

    def contact_key(self):
        return (self.name, self.language, self.consent, self.attributes)


def _apply(state: _State, row: Row, as_advisors: bool) -> bool:
    """Apply a row to a state in place; True when anything changed."""
    changed = False
    if row.name is not None and row.name != state.name:
        state.name, changed = row.name, True
    if row.language is not None and row.language != state.language:
        state.language, changed = row.language, True
    if row.consent is not None and row.consent != state.consent:
        state.consent, changed = row.consent, True
    if row.attributes:
        merged = {**state.attributes, **row.attributes}
        if merged != state.attributes:
            state.attributes, changed = merged, True
    new_tags = set(row.tags) - state.tags
    if new_tags:
        state.tags = state.tags | new_tags
        changed = True
    if as_advisors:
        current = state.advisor
        merged = {**(current or {}), **(row.advisor or {})}
        if current is None or merged != current:
            state.advisor, changed = merged, True
    return changed


class TagCache:
    """Tag name -> id for one import run (bounded by how many distinct tags exist)."""

    def __init__(self):
        self.ids: dict[str, int] = {}

    def ensure(self, names: set[str], *, create: bool) -> dict[str, int]:
        missing = [n for n in names if n not in self.ids]
        if missing:
            if create:
                Tag.objects.bulk_create([Tag(name=n) for n in missing], ignore_conflicts=True)
            self.ids.update(Tag.objects.filter(name__in=missing).values_list("name", "id"))
        return self.ids


SNAPSHOT_FIELDS = ("pk", "phone", "name", "language", "consent", "consent_updated_at",
                   "attributes")  # fmt: skip


def _array_literal(values) -> str:
    """A PostgreSQL array literal of E.164 phones or ids: characters that need no quoting
    (checked), passed as ONE parameter instead of a thousand."""
    text = ",".join(map(str, values))
    if not set(text) <= set("+0123456789,"):
        raise ValueError("only phones and ids go into an array literal")
    return "{" + text + "}"


def _existing_contacts(phones: list[str], lock: bool):
    if not _postgres():
        queryset = Contact.objects.filter(phone__in=phones)
        if lock and connection.features.has_select_for_update:
            queryset = queryset.select_for_update()
        return list(queryset.values_list(*SNAPSHOT_FIELDS))
    qn = connection.ops.quote_name
    columns = ", ".join(
        qn(Contact._meta.pk.column if f == "pk" else Contact._meta.get_field(f).column)
        for f in SNAPSHOT_FIELDS
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {qn(Contact._meta.db_table)} "  # noqa: S608
            f"WHERE {qn('phone')} = ANY(%s::varchar[]){' FOR UPDATE' if lock else ''}",
            [_array_literal(phones)],
        )
        return [
            (*row[:-1], row[-1] if isinstance(row[-1], dict) else json.loads(row[-1] or "{}"))
            for row in cursor.fetchall()
        ]


def _existing_tags(contact_ids) -> list[tuple[int, str]]:
    through = Contact.tags.through
    if not _postgres():
        return list(
            through.objects.filter(contact_id__in=contact_ids).values_list(
                "contact_id", "tag__name"
            )
        )
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.{qn('contact_id')}, t.{qn('name')} "  # noqa: S608
            f"FROM {qn(through._meta.db_table)} l JOIN {qn(Tag._meta.db_table)} t "
            f"ON t.{qn('id')} = l.{qn('tag_id')} WHERE l.{qn('contact_id')} = ANY(%s::bigint[])",
            [_array_literal(contact_ids)],
        )
        return cursor.fetchall()


def _snapshot(phones: list[str], *, as_advisors: bool, lock: bool) -> dict[str, _State]:
    states = {
        phone: _State(pk, name, language, consent, changed_at, dict(attributes or {}), set(), None)
        for pk, phone, name, language, consent, changed_at, attributes in _existing_contacts(
            phones, lock
        )
    }
    by_pk = {s.pk: s for s in states.values()}
    if by_pk:
        for contact_id, tag_name in _existing_tags(list(by_pk)):
            by_pk[contact_id].tags.add(tag_name)
        if as_advisors:
            advisors = Advisor.objects.filter(contact_id__in=by_pk).values_list(
                "contact_id", *ADVISOR_UPDATE_FIELDS[:-1]
            )
            for contact_id, firm, region, tier, prefs, onboarded in advisors:
                by_pk[contact_id].advisor = {
                    "firm": firm, "region": region, "tier": tier,
                    "content_preferences": prefs, "onboarded_on": onboarded,
                }  # fmt: skip
    return states


def batch_apply(
    rows: list[Row], *, as_advisors: bool, dry_run: bool, tags: TagCache, job_id: int | None
) -> BatchResult:
    """Upsert `rows` (already validated). With `dry_run`, count what would change only.

    Must run inside the caller's transaction: the snapshot's row locks last until it ends.
    """
    result = BatchResult()
    if not rows:
        return result
    phones = list(dict.fromkeys(r.phone for r in rows))
    before = _snapshot(phones, as_advisors=as_advisors, lock=not dry_run)
    now = timezone.now()
    after: dict[str, _State] = {}
    for row in rows:
        state = after.get(row.phone)
        if state is None:
            old = before.get(row.phone)
            if old is None:
                state = _State(None, "", "", Consent.UNKNOWN, None, {}, set(), None)
                _apply(state, row, as_advisors)
                after[row.phone] = state
                result.created += 1
                continue
            state = _State(old.pk, old.name, old.language, old.consent,
                           old.consent_updated_at, dict(old.attributes), set(old.tags),
                           dict(old.advisor) if old.advisor is not None else None)  # fmt: skip
            after[row.phone] = state
        if _apply(state, row, as_advisors):
            result.updated += 1
        else:
            result.skipped += 1
    # New contacts whose number an erased contact opted out of start opted out, whatever the
    # file says (one query per batch; crm.identity is the rule's home).
    erased = erased_opt_outs([phone for phone in after if phone not in before])
    for phone in erased:
        after[phone].consent = Consent.OPTED_OUT
    if dry_run:
        return result

    note = f"import job #{job_id}" if job_id else "import"
    changed: list[tuple[str, _State]] = []
    consent_changes: list[tuple[str, str, str, str]] = []  # phone, previous, new, note
    for phone, state in after.items():
        old = before.get(phone)
        previous = old.consent if old else Consent.UNKNOWN
        if state.consent != previous:
            state.consent_updated_at = now
            why = note
            if phone in erased:
                why = f"{note}: this number opted out as erased contact #{erased[phone]}"
            consent_changes.append((phone, previous, state.consent, why))
        if old is None or state.contact_key() != old.contact_key():
            changed.append((phone, state))
    ids = {phone: s.pk for phone, s in before.items()}
    inserted: set[str] = set()
    if changed:
        upserted, inserted = _contacts_upsert(changed, now)
        ids.update(upserted)

    wanted_tags = {name for s in after.values() for name in s.tags}
    if wanted_tags:
        tag_ids = tags.ensure(wanted_tags, create=True)
        new_links, more_links = [], []  # of contacts created in this batch / already there
        for phone, state in after.items():
            old = before.get(phone)
            if phone in inserted:
                new_links.extend((ids[phone], tag_ids[name]) for name in state.tags)
            else:
                known = old.tags if old is not None else set()
                more_links.extend((ids[phone], tag_ids[name]) for name in state.tags - known)
        _tag_links_insert(new_links, fresh=True)
        _tag_links_insert(more_links, fresh=False)

    result.consent_changes = [(ids[p], previous, new) for p, previous, new, _ in consent_changes]
    if consent_changes:
        _consent_events_insert(
            [(ids[p], previous, new, why) for p, previous, new, why in consent_changes], at=now
        )

    if as_advisors:
        advisors = []
        for phone, state in after.items():
            old = before.get(phone)
            if state.advisor is None or (old is not None and old.advisor == state.advisor):
                continue
            fields = {"firm": "", "region": "", "tier": "bronze", "content_preferences": [],
                      "onboarded_on": now.date()}  # fmt: skip
            fields.update({k: v for k, v in state.advisor.items() if v is not None})
            if old is not None and old.advisor is not None:
                fields["onboarded_on"] = state.advisor.get("onboarded_on")
            advisors.append(Advisor(contact_id=ids[phone], **fields))
        if advisors:
            Advisor.objects.bulk_create(
                advisors,
                update_conflicts=True,
                unique_fields=["contact"],
                update_fields=ADVISOR_UPDATE_FIELDS,
            )
    return result


# --- Writes: COPY on PostgreSQL, the ORM's bulk_create elsewhere ----------------------------
# On PostgreSQL a batch is streamed with COPY into a temporary staging table (created once per
# connection, emptied at each commit), then moved with one INSERT ... SELECT ... ON CONFLICT
# (phone) DO UPDATE that also returns the ids. This skips building model instances and
# quoting thousands of parameters in Python, the two costs that dominate a batch otherwise.


def _postgres() -> bool:
    return connection.vendor == "postgresql"


STAGE_COLUMNS = {  # Contact field -> type in the staging table, for the fields an import writes
    "phone": "varchar", "wa_id": "varchar", "name": "varchar", "language": "varchar",
    "attributes": "jsonb", "consent": "varchar", "consent_updated_at": "timestamptz",
}  # fmt: skip
CONTACT_STAGE = "crm_import_contact_stage"
LINK_STAGE = "crm_import_tag_stage"


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    qn = connection.ops.quote_name
    statement = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
    with cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _stage(cursor, table: str, columns: dict[str, str]) -> None:
    """The staging table of this session. Its rows go at every commit (and with a rollback),
    and each batch transaction fills each staging table once. Asked for in every batch: a
    rolled-back transaction takes a table it created with it."""
    qn = connection.ops.quote_name
    spec = ", ".join(f"{qn(name)} {kind}" for name, kind in columns.items())
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {qn(table)} ({spec}) ON COMMIT DELETE ROWS")


def _contacts_upsert(changed: list[tuple[str, _State]], now) -> tuple[dict[str, int], set[str]]:
    """Insert new contacts and update changed ones: (phone -> id, phones inserted)."""
    if not _postgres():
        Contact.objects.bulk_create(
            [
                Contact(
                    phone=phone, wa_id=phone.lstrip("+"), name=state.name,
                    language=state.language, attributes=state.attributes,
                    consent=state.consent, consent_updated_at=state.consent_updated_at,
                )
                for phone, state in changed
            ],
            update_conflicts=True,
            unique_fields=["phone"],
            update_fields=CONTACT_UPDATE_FIELDS,
        )  # fmt: skip
        phones = [phone for phone, _ in changed]
        ids = dict(Contact.objects.filter(phone__in=phones).values_list("phone", "pk"))
        return ids, set()  # links go in with ignore_conflicts here: no need to know

    assert connection.in_atomic_block, "the staging table empties at each commit"
    qn = connection.ops.quote_name
    columns, select, params = [], [], []
    for f in Contact._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(qn(f.column))
        if f.name in STAGE_COLUMNS:
            select.append(f"u.{qn(f.name)}")
        else:  # every other column gets its model default (created_at/updated_at: now)
            value = now if f.name in ("created_at", "updated_at") else f.get_default()
            select.append("%s")
            params.append(f.get_db_prep_save(value, connection))
    updates = ", ".join(
        f"{qn(c)} = EXCLUDED.{qn(c)}"
        for c in (Contact._meta.get_field(n).column for n in CONTACT_UPDATE_FIELDS)
    )
    with connection.cursor() as cursor:
        _stage(cursor, CONTACT_STAGE, STAGE_COLUMNS)
        _copy(
            cursor, CONTACT_STAGE, list(STAGE_COLUMNS),
            (
                (phone, phone.lstrip("+"), s.name, s.language, json.dumps(s.attributes),
                 s.consent, s.consent_updated_at)
                for phone, s in changed
            ),
        )  # fmt: skip
        cursor.execute(
            f"INSERT INTO {qn(Contact._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(select)} FROM {qn(CONTACT_STAGE)} AS u "
            f"ON CONFLICT ({qn('phone')}) DO UPDATE SET {updates} "
            f"RETURNING {qn('phone')}, {qn('id')}, (xmax = 0)",  # xmax 0: inserted now
            params,
        )  # identifiers come from model metadata; values are parameters
        rows = cursor.fetchall()
        return {phone: pk for phone, pk, _ in rows}, {phone for phone, _, new in rows if new}


def _tag_links_insert(links: list[tuple[int, int]], *, fresh: bool) -> None:
    """Link contacts to tags. `fresh`: the contacts were created in this transaction, so no
    link can exist yet and the rows are copied straight into the table."""
    if not links:
        return
    through = Contact.tags.through
    if not _postgres():
        through.objects.bulk_create(
            [through(contact_id=c, tag_id=t) for c, t in links], ignore_conflicts=True
        )
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if fresh:
            _copy(cursor, through._meta.db_table, ["contact_id", "tag_id"], links)
            return
        _stage(cursor, LINK_STAGE, {"contact_id": "bigint", "tag_id": "bigint"})
        _copy(cursor, LINK_STAGE, ["contact_id", "tag_id"], links)
        cursor.execute(
            f"INSERT INTO {qn(through._meta.db_table)} ({qn('contact_id')}, {qn('tag_id')}) "  # noqa: S608
            f"SELECT {qn('contact_id')}, {qn('tag_id')} FROM {qn(LINK_STAGE)} "
            f"ON CONFLICT DO NOTHING"
        )


CONSENT_EVENT_COLUMNS = ["contact_id", "previous", "consent", "source", "note", "created_at"]


def _consent_events_insert(changes: list[tuple[int, str, str, str]], *, at) -> None:
    """Append one ConsentEvent (source `import`) per (contact, previous, new, note): the audit
    of an import."""
    rows = (
        (c, previous, new, ConsentSource.IMPORT, note, at) for c, previous, new, note in changes
    )
    if not _postgres():
        ConsentEvent.objects.bulk_create(
            ConsentEvent(**dict(zip(CONSENT_EVENT_COLUMNS, row, strict=True))) for row in rows
        )
        return
    with connection.cursor() as cursor:  # append-only rows: straight COPY into the table
        _copy(cursor, ConsentEvent._meta.db_table, CONSENT_EVENT_COLUMNS, rows)
