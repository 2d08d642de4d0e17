"""Regression: `seed_demo` under the production settings created `admin / admin-demo-2026`."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.core.test_settings import STRONG_KEY, run_manage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("command", ["seed_demo", "create_demo_users"])
def test_demo_commands_refuse_when_demo_data_is_not_allowed(settings, command):
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="DEMO_DATA_ALLOWED is off"):
        call_command(command)
    assert not get_user_model().objects.exists()


def test_a_staging_demo_gets_random_passwords(settings):
    settings.DEMO_DATA_ALLOWED = False
    call_command("create_demo_users", "--staging-demo")
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff
    assert not admin.check_password("admin-demo-2026")


def test_the_local_demo_keeps_its_published_passwords(settings):
    settings.DEMO_DATA_ALLOWED = True
    call_command("create_demo_users")
    assert get_user_model().objects.get(username="admin").check_password("admin-demo-2026")


def test_seed_demo_exits_non_zero_under_the_production_settings():
    result = run_manage("seed_demo", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="parley.example.com")
    assert result.returncode != 0
    assert "DEMO_DATA_ALLOWED is off" in result.stderr
    assert "admin-demo-2026" not in result.stdout
