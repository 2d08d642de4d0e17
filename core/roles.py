"""Roles are Django groups; this module is the single statement of what each may do.

Each role lists `app_label.codename` patterns (fnmatch) it is granted, and patterns taken
away again. Patterns rather than a frozen list keep roles right as apps add models: the
post-migrate hook re-applies the matrix after every migration, and the data migration
`core.0002_roles` creates the groups on a new database.

The README's permission matrix documents the same rules for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

ADMIN = "Admin"
CAMPAIGN_MANAGER = "Campaign manager"
CONTENT_REVIEWER = "Content reviewer"
AGENT = "Agent"
ANALYST = "Analyst"

# Staff members' own phone numbers (their profiles): personal to each, so only Admin browses
# them; every staff member edits their own on /staff/profile/.
STAFF_PERSONAL = ["crm.*_staffprofile"]

# Tables that belong to the framework, not to the business: only Admin touches them.
_FRAMEWORK = ["admin.*", "auth.*", "contenttypes.*", "sessions.*", "axes.*"]


# The operations centre's tables and the system's own bookkeeping: error tracebacks, job logs,
# health samples, raw webhook bodies and provider status history, rollup and rate-limit state,
# and the event webhooks to integrators (subscriptions with their secrets, the delivery log).
# The operations centre is Admin-only, so these rows are too, in the admin and everywhere else
# (README "Admin policy").
OPERATIONS_ONLY = [
    "analytics.*_apperror",
    "analytics.*_jobrun",
    "analytics.*_healthsample",
    "analytics.*_rollupdirtyday",
    "analytics.*_rollupstate",
    "messaging.*_webhookevent",
    "messaging.*_messagestatusevent",
    "messaging.*_ratelimitstate",
    # Event webhooks to integrators: their secrets, URLs and what every event carried.
    "messaging.*_webhooksubscription",
    "messaging.*_webhookdelivery",
]


@dataclass(frozen=True)
class Role:
    name: str
    grants: list[str]
    denies: list[str] = field(default_factory=list)

    def allows(self, perm: str) -> bool:
        if any(fnmatchcase(perm, pattern) for pattern in self.denies):
            return False
        return any(fnmatchcase(perm, pattern) for pattern in self.grants)


ROLES: list[Role] = [
    Role(ADMIN, grants=["*"]),
    Role(
        CAMPAIGN_MANAGER,
        grants=[
            "core.access_staff",
            "crm.*",
            "messaging.view_*",
            "messaging.*_campaign",
            "messaging.launch_campaign",
            "messaging.*_messagetemplate",
            "messaging.sync_messagetemplate",
            "messaging.add_message",
            "messaging.resend_message",
            "messaging.*_notification*",
            "messaging.*_contentitem",
            "messaging.*_autoreplyrule",
            "messaging.*_faqentry",
            "messaging.*_cannedreply",
            "messaging.*_trackedlink",
            "messaging.*_mediaasset",
            "analytics.view_*",
        ],
        denies=[
            "messaging.review_contentitem",
            "crm.delete_consentevent",
            "crm.erase_contact",
            *STAFF_PERSONAL,
            *OPERATIONS_ONLY,
        ],
    ),
    Role(
        CONTENT_REVIEWER,
        grants=[
            "core.access_staff",
            "messaging.view_contentitem",
            "messaging.change_contentitem",
            "messaging.review_contentitem",
            "messaging.view_messagetemplate",
            "messaging.view_message",
            "crm.view_advisor",
            "crm.view_contact",
            "analytics.view_*",
        ],
        denies=OPERATIONS_ONLY,
    ),
    Role(
        AGENT,
        grants=[
            "core.access_staff",
            "crm.view_contact",
            "crm.change_contact",
            "crm.view_tag",
            "crm.view_consentevent",
            "crm.change_consent",
            "crm.view_advisor",
            "messaging.*_conversation",
            "messaging.view_automatedanswer",
            "messaging.rate_automatedanswer",
            "messaging.view_message",
            "messaging.add_message",
            "messaging.view_messagetemplate",
            "messaging.view_contentitem",
            "messaging.view_autoreplyrule",
            "messaging.*_faqentry",
            "messaging.view_team",
            # The media library: attach a file to a reply, or add one (never delete).
            "messaging.view_mediaasset",
            "messaging.add_mediaasset",
            # Their own teams' canned replies; the global ones and other teams' need
            # messaging.manage_cannedreply (Campaign manager, Admin).
            "messaging.view_cannedreply",
            "messaging.add_cannedreply",
            "messaging.change_cannedreply",
            "messaging.delete_cannedreply",
            "analytics.add_qualityrating",
            "analytics.view_qualityrating",
        ],
        denies=OPERATIONS_ONLY,
    ),
    Role(
        ANALYST,
        grants=[
            "core.access_staff",
            "crm.view_*",
            "crm.export_contact",
            "messaging.view_*",
            "analytics.*",
        ],
        denies=[
            "analytics.add_*",
            "analytics.change_*",
            "analytics.delete_*",
            *STAFF_PERSONAL,
            *OPERATIONS_ONLY,
        ],
    ),
]

ROLE_NAMES = [role.name for role in ROLES]


def role_permission_codes(role: Role, all_codes: list[str]) -> list[str]:
    """The `app_label.codename` strings of `all_codes` that `role` is granted."""
    return [code for code in all_codes if role.allows(code)]


def roles_sync(apps) -> None:
    """Create the role groups and give each exactly the permissions its patterns match.

    Works with live or historical models (`apps` from a migration), so the data migration
    and the post-migrate hook share it.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = list(Permission.objects.select_related("content_type"))
    by_code = {f"{p.content_type.app_label}.{p.codename}": p for p in perms}
    codes = sorted(by_code)
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.name)
        group.permissions.set([by_code[c] for c in role_permission_codes(role, codes)])


def roles_sync_on_migrate(sender, app_config=None, using="default", apps=None, **kwargs):
    """post_migrate receiver: permissions of every app exist by now, re-apply the matrix."""
    if app_config is None or app_config.label != "core":
        return
    from django.apps import apps as live_apps
    from django.contrib.auth.management import create_permissions

    for config in live_apps.get_app_configs():
        create_permissions(config, verbosity=0, using=using)
    roles_sync(live_apps)
