from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Events, rollups, dashboards, reporting and the operations centre.

    Reads crm and messaging and listens to their signals; neither imports it.
    """

    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from celery.signals import before_task_publish

        from analytics.ops.builtins import register_board, register_jobs
        from analytics.ops.queues import task_published_at
        from core.navigation import NavItem, nav_register

        perm = "core.view_operations"
        nav_register(
            NavItem("Operations", "ops:health", perm, "Operations", 800),
            NavItem("Jobs", "ops:jobs", perm, "Operations", 810),
            NavItem("Live events", "ops:events", perm, "Operations", 820),
            NavItem("Error log", "ops:errors", perm, "Operations", 830),
        )
        register_jobs()
        register_board()
        # Lets the health page tell how long the oldest task has waited in a queue.
        before_task_publish.connect(task_published_at, weak=False, dispatch_uid="ops-published")
