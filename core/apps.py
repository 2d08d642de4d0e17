from django.apps import AppConfig
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
        from core.db_guards import sqlite_guard_register
        from core.roles import roles_sync_on_migrate

        connection_created.connect(sqlite_guard_register, dispatch_uid="core.sqlite_guard")
        post_migrate.connect(roles_sync_on_migrate, dispatch_uid="core.roles_sync")
