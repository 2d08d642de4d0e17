from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Channels, templates, messages, webhooks, campaigns, content, notifications."""

    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from core.navigation import NavItem, nav_register

        nav_register(
            NavItem("Campaigns", "messaging:campaign-list", "messaging.view_campaign",
                    "Engage", 200),
        )  # fmt: skip
        nav_register(
            NavItem("Content", "messaging:content-list", "messaging.view_contentitem",
                    "Engage", 210),
            NavItem("Content review", "messaging:content-review",
                    "messaging.review_contentitem", "Engage", 215),
            NavItem("Notifications", "messaging:notification-list",
                    "messaging.view_notification", "Engage", 220),
        )  # fmt: skip
        # Content and notification admin pages and tasks live in their own modules.
        from messaging.admin import content as _content_admin  # noqa: F401
        from messaging.tasks import content as _content_tasks  # noqa: F401

        # --- Inbox and automation ---
        nav_register(
            NavItem("Inbox", "messaging:inbox", "messaging.view_conversation", "Inbox", 150),
            NavItem("FAQ", "messaging:faq-list", "messaging.view_faqentry", "Inbox", 160),
            NavItem("Auto-replies", "admin:messaging_autoreplyrule_changelist",
                    "messaging.view_autoreplyrule", "Inbox", 170),
        )  # fmt: skip
        from messaging import inbox_receivers
        from messaging.admin import automation as _automation_admin  # noqa: F401
        from messaging.tasks import inbox as _inbox_tasks  # noqa: F401

        inbox_receivers.connect()
