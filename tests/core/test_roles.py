"""The role matrix: groups exist after migrating and hold exactly what core.roles grants."""

import pytest
from django.contrib.auth.models import Group, Permission

from core.roles import ADMIN, AGENT, ANALYST, CAMPAIGN_MANAGER, CONTENT_REVIEWER, ROLE_NAMES, ROLES

pytestmark = pytest.mark.django_db


def perm_codes(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


def test_every_role_group_exists():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLE_NAMES)


def test_admin_holds_every_permission():
    assert Group.objects.get(name=ADMIN).permissions.count() == Permission.objects.count()


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_groups_match_the_matrix(role):
    all_codes = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
    expected = {c for c in all_codes if role.allows(c)}
    assert perm_codes(Group.objects.get(name=role.name)) == expected


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_role_may_use_the_staff_pages(role):
    assert "core.access_staff" in perm_codes(Group.objects.get(name=role))


@pytest.mark.parametrize(
    ("role", "perm", "allowed"),
    [
        (ADMIN, "core.add_apitoken", True),
        (CAMPAIGN_MANAGER, "core.add_apitoken", False),
        (CONTENT_REVIEWER, "core.view_apitoken", False),
        (AGENT, "auth.change_user", False),
        (ANALYST, "django_celery_beat.change_periodictask", False),
        (ANALYST, "auth.view_user", False),
        (CAMPAIGN_MANAGER, "messaging.review_contentitem", False),
        (CONTENT_REVIEWER, "messaging.review_contentitem", True),
        (ANALYST, "analytics.add_dailysnapshot", False),
        (ANALYST, "crm.export_contact", True),
    ],
)
def test_role_rules(role, perm, allowed):
    rule = next(r for r in ROLES if r.name == role)
    assert rule.allows(perm) is allowed


def test_sync_is_idempotent_and_repairs_drift():
    from django.apps import apps

    from core.roles import roles_sync

    agent = Group.objects.get(name=AGENT)
    agent.permissions.add(Permission.objects.get(codename="add_apitoken"))
    roles_sync(apps)
    roles_sync(apps)
    assert "core.add_apitoken" not in perm_codes(agent)
