"""Load believable demo data so a new user sees every feature working after `make run`.

Idempotent: running it again does not duplicate the history; it only queues a few fresh live
sends so the pipeline visibly works each time the demo starts.
"""

import random

from django.core.management import call_command
from django.core.management.base import BaseCommand

from crm.models import Contact
from messaging.models import Channel


class Command(BaseCommand):
    help = "Create demo users (one per role) and demo data. Safe to run repeatedly."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026, help="random seed")

    def handle(self, *args, seed, **options):
        rng = random.Random(seed)
        call_command("create_demo_users", stdout=self.stdout)

        try:
            from crm.demo import seed_crm
        except ImportError:  # pragma: no cover - crm demo data arrives with the CRM feature
            seed_crm = None
        if seed_crm is not None:
            self.stdout.write(f"CRM: {seed_crm(rng=rng)}")

        channel = Channel.objects.filter(is_active=True).first()
        if channel is None:
            self.stdout.write("No channel configured: run `manage.py setup_channel` first.")
            return
        from messaging.demo import seed_messaging

        contacts = list(Contact.objects.exclude(phone=None).order_by("pk")[:150])
        if not contacts:
            contacts = _fallback_contacts(rng)
        self.stdout.write(
            f"Messaging: {seed_messaging(rng=rng, channel=channel, contacts=contacts)}"
        )
        from messaging.demo_campaigns import seed_campaigns

        self.stdout.write(
            f"Campaigns: {seed_campaigns(rng=rng, channel=channel, contacts=contacts)}"
        )


def _fallback_contacts(rng: random.Random) -> list[Contact]:
    names = ["Asha Patel", "Ravi Kumar", "Meera Iyer", "Arjun Singh", "Priya Nair", "Kabir Shah"]
    contacts = []
    for name in names:
        phone = f"+9198{rng.randint(10000000, 99999999)}"
        contact, _ = Contact.objects.get_or_create(
            name=name, defaults={"phone": phone, "wa_id": phone[1:], "consent": "opted_in"}
        )
        contacts.append(contact)
    return contacts
