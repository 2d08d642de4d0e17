from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from core.roles import ROLE_NAMES

# Demo accounts exist only in the local demo database; their passwords are printed anyway.
DEMO_PASSWORD_SUFFIX = "-demo-2026"  # noqa: S105


def demo_username(role: str) -> str:
    return role.lower().replace(" ", "_")


class Command(BaseCommand):
    help = "Create one staff user per role (for the local demo) and print the credentials."

    def handle(self, *args, **options):
        User = get_user_model()
        self.stdout.write("Demo users (username / password):")
        for role in ROLE_NAMES:
            username = demo_username(role)
            password = username + DEMO_PASSWORD_SUFFIX
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@parley.example", "first_name": role},
            )
            user.is_staff = True
            user.is_superuser = False
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            self.stdout.write(f"  {role:<17} {username} / {password}")
