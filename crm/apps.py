from django.apps import AppConfig


class CrmConfig(AppConfig):
    """Contacts, consent, tags, segments, advisors, imports.

    Imports nothing from messaging or analytics: those apps build on it.
    """

    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        # Imported in ready(): these read models, which Django loads only after every app module.
        from core.navigation import NavItem, nav_register
        from crm.audited import audit_register_crm

        audit_register_crm()

        nav_register(
            NavItem("Contacts", "crm:contact_list", "crm.view_contact", "Audience", 200),
            NavItem("Segments", "crm:segment_list", "crm.view_segment", "Audience", 210),
            NavItem("Advisors", "crm:advisor_list", "crm.view_advisor", "Audience", 220),
            NavItem("Imports", "crm:import_list", "crm.add_importjob", "Audience", 230),
            NavItem("My profile", "crm:staff_profile", "core.access_staff", "Help", 1020),
        )
