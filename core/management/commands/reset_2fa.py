"""Remove a user's two-factor devices (a lost phone and no recovery codes left).

The user signs in with their password alone next time, and is asked to set two-factor sign-in
up again if their role requires it. Admins can do the same in the admin (Users -> select ->
"Reset two-factor sign-in").
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.mfa.services import mfa_disable


class Command(BaseCommand):
    help = "Reset a user's two-factor sign-in (removes their authenticator and recovery codes)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        removed = mfa_disable(user=user)
        if removed:
            self.stdout.write(
                f"Two-factor sign-in reset for {username}: {removed} device(s) removed."
            )
        else:
            self.stdout.write(f"{username} had no two-factor devices; nothing to reset.")
