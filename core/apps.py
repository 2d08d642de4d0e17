from django.apps import AppConfig
from django.core.checks import Error, register
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """Foundation every other app may import: roles, API base, health, logging, staff shell.

    It imports nothing from crm, messaging or analytics, so the dependency direction
    `core <- crm <- messaging <- analytics` holds.
    """

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Imported in ready(): these read models, which Django loads only after every app module.
        from django.contrib.auth.signals import user_logged_in

        from core.audit import audit_receivers_connect
        from core.audited import audit_register_core
        from core.db_guards import sqlite_guard_register
        from core.roles import roles_sync_on_migrate

        connection_created.connect(sqlite_guard_register, dispatch_uid="core.sqlite_guard")
        post_migrate.connect(roles_sync_on_migrate, dispatch_uid="core.roles_sync")
        audit_register_core()
        audit_receivers_connect()
        user_logged_in.connect(_mfa_session_start, dispatch_uid="core.mfa_session_start")
        register(_check_2fa_roles)
        register(_check_metrics_networks)


def _mfa_session_start(sender, request, user, **kwargs):
    from core.mfa.services import mfa_session_start

    if request is not None and hasattr(request, "session"):
        mfa_session_start(request, user)


def _check_2fa_roles(app_configs, **kwargs):
    """STAFF_2FA_REQUIRED_ROLES must name roles that exist, or a typo would silently require
    nothing."""
    from django.conf import settings

    from core.roles import ROLE_NAMES

    unknown = sorted(set(settings.STAFF_2FA_REQUIRED_ROLES) - set(ROLE_NAMES))
    if unknown:
        return [
            Error(
                f"STAFF_2FA_REQUIRED_ROLES names unknown roles: {', '.join(unknown)}",
                hint=f"Roles are: {', '.join(ROLE_NAMES)}.",
                id="core.E001",
            )
        ]
    return []


def _check_metrics_networks(app_configs, **kwargs):
    """METRICS_ALLOWED_NETWORKS must be CIDRs: a typo would otherwise refuse every scrape."""
    from django.conf import settings

    from core.metrics import metrics_networks_problem

    problem = metrics_networks_problem(getattr(settings, "METRICS_ALLOWED_NETWORKS", []))
    if problem:
        return [
            Error(
                f"METRICS_ALLOWED_NETWORKS has an entry that is not a network: {problem}",
                hint="Use CIDRs such as 10.0.0.0/8 or 127.0.0.1/32, separated by commas.",
                id="core.E002",
            )
        ]
    return []
