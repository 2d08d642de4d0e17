from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print its key (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, username, name, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"no user named {username!r}") from exc
        _, key = api_token_create(user=user, name=name)
        self.stdout.write(key)
