"""Data: each conversation's window starts from the contact's last message to that number.

Before, the 24-hour window was read from `Contact.last_inbound_at` (any number). Each
conversation now keeps its own; this fills it from the inbound messages already stored, in
batches of conversations. A conversation whose contact never wrote to its number stays empty
(its window is closed, as WhatsApp sees it).
"""

from django.db import migrations
from django.db.models import OuterRef, Subquery

BATCH = 1000


def backfill(apps, schema_editor):
    Conversation = apps.get_model("messaging", "Conversation")
    Message = apps.get_model("messaging", "Message")
    latest = (
        Message.objects.filter(
            contact_id=OuterRef("contact_id"),
            channel_id=OuterRef("channel_id"),
            direction="in",
            received_at__isnull=False,
        )
        .exclude(type="system")  # not written by the user: opens no window
        .order_by("-received_at")
        .values("received_at")[:1]
    )
    last_pk = 0
    while True:
        batch = list(
            Conversation.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not batch:
            return
        Conversation.objects.filter(pk__in=batch, last_inbound_at__isnull=True).update(
            last_inbound_at=Subquery(latest)
        )
        last_pk = batch[-1]


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0023_conversation_last_inbound_at"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
