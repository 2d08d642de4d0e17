from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Events, rollups, dashboards, reporting and the operations centre.

    Reads crm and messaging and listens to their signals; neither imports it.
    """

    name = "analytics"
    verbose_name = "Analytics"
