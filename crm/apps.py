from django.apps import AppConfig


class CrmConfig(AppConfig):
    """Contacts, consent, tags, segments, advisors, imports, conversations.

    Imports nothing from messaging or analytics: those apps build on it.
    """

    name = "crm"
    verbose_name = "CRM"
