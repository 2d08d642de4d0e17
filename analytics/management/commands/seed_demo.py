"""Load believable demo data so a new user sees every feature working after `make run`.

Idempotent: running it again updates the same rows instead of adding more.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create demo users (one per role) and demo data. Safe to run repeatedly."

    def handle(self, *args, **options):
        call_command("create_demo_users", stdout=self.stdout)
