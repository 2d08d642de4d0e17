"""`manage.py flush`, through the append-only guards (core.db_guards).

Flushing empties every table, append-only ones included: it is the whole-database operation
the guards leave a door for (tests call it between transactional tests). Same options and
behaviour as Django's own command otherwise.
"""

from django.core.management.commands.flush import Command as DjangoFlush

from core.db_guards import append_only_maintenance


class Command(DjangoFlush):
    def handle(self, **options):
        with append_only_maintenance(using=options["database"]):
            return super().handle(**options)
