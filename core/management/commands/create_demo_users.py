import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.roles import ROLE_NAMES

# Demo accounts exist only in the local demo database; their passwords are printed anyway.
DEMO_PASSWORD_SUFFIX = "-demo-2026"  # noqa: S105
STAGING_FLAG = "--staging-demo"


def demo_username(role: str) -> str:
    return role.lower().replace(" ", "_")


def add_staging_flag(parser: CommandParser) -> None:
    parser.add_argument(
        STAGING_FLAG,
        action="store_true",
        dest="staging_demo",
        help="Allow demo data where DEMO_DATA_ALLOWED is off (production settings), for a "
        "throwaway staging install: the demo users get random passwords, printed once.",
    )


def demo_mode(*, staging_demo: bool) -> str:
    """'local' (published passwords), 'staging' (random passwords), or CommandError.

    The demo passwords are in the README and the source: under the production settings
    (DEMO_DATA_ALLOWED off) creating them would hand an Admin account to anyone, so the
    commands refuse unless the operator asks for a staging demo explicitly."""
    if settings.DEMO_DATA_ALLOWED:
        return "local"
    if staging_demo:
        return "staging"
    raise CommandError(
        "Refusing to create demo users and data: DEMO_DATA_ALLOWED is off (the production "
        "settings), and the demo accounts' passwords are published. For a throwaway staging "
        f"install, pass {STAGING_FLAG} (demo users then get random passwords)."
    )


class Command(BaseCommand):
    help = "Create one staff user per role (for the local demo) and print the credentials."

    def add_arguments(self, parser):
        add_staging_flag(parser)

    def handle(self, *args, staging_demo=False, **options):
        mode = demo_mode(staging_demo=staging_demo)
        User = get_user_model()
        self.stdout.write("Demo users (username / password):")
        for role in ROLE_NAMES:
            username = demo_username(role)
            if mode == "local":
                password = username + DEMO_PASSWORD_SUFFIX
            else:
                password = secrets.token_urlsafe(18)
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
