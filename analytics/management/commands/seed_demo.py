"""Load believable demo data so a new user sees every feature working after `make run`.

Idempotent: each part checks what is already there, so running it again does not duplicate
the history; it only queues a few fresh live sends so the pipeline visibly works each time
the demo starts. Order matters: contacts, then message history, campaigns, content,
notifications and the inbox, and last the analytics rollups that summarise all of it.
"""

import random

from django.core.management import call_command
from django.core.management.base import BaseCommand

from analytics.demo import seed_analytics
from core.management.commands.create_demo_users import add_staging_flag, demo_mode
from crm.demo import seed_crm
from crm.models import Contact
from messaging.campaigns.demo import seed_campaigns
from messaging.channels.selectors import channels_active
from messaging.content.demo import seed_content
from messaging.demo import seed_messaging
from messaging.hooks_out.demo import seed_event_webhooks
from messaging.inbox.demo import seed_inbox
from messaging.media.demo import seed_media


class Command(BaseCommand):
    help = "Create demo users (one per role) and demo data. Safe to run repeatedly."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026, help="random seed")
        add_staging_flag(parser)

    def handle(self, *args, seed, staging_demo=False, **options):
        demo_mode(staging_demo=staging_demo)  # refuses under the production settings
        rng = random.Random(seed)
        call_command("create_demo_users", staging_demo=staging_demo, stdout=self.stdout)
        self.stdout.write(f"CRM: {seed_crm(rng=rng)}")

        channel = channels_active().first()
        if channel is None:
            self.stdout.write("No channel configured: run `manage.py setup_channel` first.")
            return
        contacts = list(
            Contact.objects.exclude(phone=None).filter(blocked=False).order_by("pk")[:150]
        )
        steps = [
            # First: what the other steps send and receive becomes its callbacks.
            ("Event webhooks", lambda: seed_event_webhooks(simulator_url=channel.base_url)),
            ("Messaging", lambda: seed_messaging(rng=rng, channel=channel, contacts=contacts)),
            ("Campaigns", lambda: seed_campaigns(rng=rng, channel=channel, contacts=contacts)),
            ("Content", lambda: seed_content(rng=rng, channel=channel)),
            ("Inbox", lambda: seed_inbox(rng=rng, channel=channel)),
            ("Media library", seed_media),
            ("Analytics", lambda: seed_analytics(rng=rng)),
        ]
        for name, step in steps:
            self.stdout.write(f"{name}: {step()}")
