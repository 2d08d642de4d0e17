from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Events, rollups, dashboards, reporting and the operations centre.

    Reads crm and messaging and listens to their signals; neither imports it.
    """

    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Imported in ready(): these read models, which Django loads only after every app module.
        from celery.signals import before_task_publish

        from analytics.audited import audit_register_analytics
        from analytics.ops.builtins import register_board, register_jobs
        from analytics.ops.metrics import queue_depth_collect
        from analytics.ops.queues import task_published_at
        from core.metrics import metrics_collector_register
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
        audit_register_analytics()

        # Second group: after the jobs and board above are registered, the sections join them.
        from analytics.receivers import receivers_connect
        from analytics.registry import register_board_sections, register_rollup_job

        dashboards = "analytics.view_dashboard"
        nav_register(
            NavItem("Overview", "analytics:overview", dashboards, "Analytics", 700),
            NavItem("Campaign results", "analytics:campaigns", dashboards, "Analytics", 710),
            NavItem("Buttons", "analytics:buttons", dashboards, "Analytics", 720),
            NavItem("Conversations", "analytics:conversations", dashboards, "Analytics", 730),
            NavItem("Customers", "analytics:customers", dashboards, "Analytics", 740),
            NavItem("Revenue", "analytics:revenue", dashboards, "Analytics", 750),
        )
        receivers_connect()
        from analytics.personal_data import personal_data_register_analytics

        personal_data_register_analytics()
        register_rollup_job()
        register_board_sections()
        from analytics.home import home_sections_register

        home_sections_register()
        from analytics.campaign_results import campaign_results_register_analytics

        campaign_results_register_analytics()
        # Lets the health page tell how long the oldest task has waited in a queue.
        before_task_publish.connect(task_published_at, weak=False, dispatch_uid="ops-published")
        # Queue depths on /metrics (README "Metrics and error reports").
        metrics_collector_register("queue_depth", queue_depth_collect)
