"""Consent events become append-only in the database: triggers refuse UPDATE and DELETE (and
TRUNCATE on PostgreSQL) outside maintenance (`core.db_guards`), whatever issues them.

An UPDATE that leaves every fact of the event as it was is still allowed: a merge moves a
duplicate's events to the contact it is merged into, and deleting a staff user clears the
actor (SET_NULL). Note for later migrations: on SQLite, an operation that rebuilds the
`crm_consentevent` table drops its triggers; such a migration must create them again
(`tests/crm/test_consent_guard.py` fails if they are missing).
"""

from django.db import migrations

from core.db_guards import append_only_trigger_sql

TABLE = "crm_consentevent"
MESSAGE = "consent events are append-only"

# The allowed-UPDATE condition, per vendor, frozen here as migrations should be.
MUTABLE = {
    "postgresql": (
        "NEW.id = OLD.id AND NEW.previous = OLD.previous AND NEW.consent = OLD.consent "
        "AND NEW.source = OLD.source AND NEW.note = OLD.note AND NEW.created_at = OLD.created_at "
        "AND (NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id OR NEW.actor_id IS NULL)"
    ),
    "sqlite": (
        "NEW.id IS OLD.id AND NEW.previous IS OLD.previous AND NEW.consent IS OLD.consent "
        "AND NEW.source IS OLD.source AND NEW.note IS OLD.note AND NEW.created_at IS "
        "OLD.created_at AND (NEW.actor_id IS OLD.actor_id OR NEW.actor_id IS NULL)"
    ),
}


def _run(apps, schema_editor, *, forward: bool):
    vendor = schema_editor.connection.vendor
    create, drop = append_only_trigger_sql(
        table=TABLE, vendor=vendor, mutable=MUTABLE.get(vendor, ""), message=MESSAGE
    )
    for statement in create if forward else drop:
        schema_editor.execute(statement, params=None)


def triggers_create(apps, schema_editor):
    _run(apps, schema_editor, forward=True)


def triggers_drop(apps, schema_editor):
    _run(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("crm", "0006_contact_erasure")]

    operations = [migrations.RunPython(triggers_create, triggers_drop, elidable=False)]
