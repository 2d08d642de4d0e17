from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Channels, templates, messages, webhooks, campaigns, content, notifications, inbox."""

    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # Imported in ready(): these read models, which Django loads only after every app module.
        from core.metrics import metrics_collector_register
        from core.navigation import NavItem, nav_register
        from messaging.audited import audit_register_messaging
        from messaging.campaigns.health_hooks import campaign_health_hooks_register
        from messaging.campaigns.metrics import campaign_progress_collect
        from messaging.campaigns.selectors import campaigns_using_asset
        from messaging.campaigns.send_hooks import campaign_send_hooks_register
        from messaging.channels.template_media import header_example_source_register
        from messaging.crm_extension import crm_extension_register
        from messaging.home import home_sections_register
        from messaging.hooks_out.consent import consent_events_connect
        from messaging.media.services import library_header_examples, media_users_register
        from messaging.notifications.services import notification_events_register
        from messaging.personal_data import personal_data_register_messaging
        from messaging.webhooks.metrics import webhook_backlog_collect

        audit_register_messaging()
        nav_register(
            NavItem("Inbox", "messaging:inbox", "messaging.view_conversation", "Inbox", 150),
            NavItem("FAQ", "messaging:faq-list", "messaging.view_faqentry", "Inbox", 160),
            NavItem(
                "Canned replies",
                "messaging:canned-list",
                "messaging.view_cannedreply",
                "Inbox",
                165,
            ),
            NavItem("Teams", "messaging:team-list", "messaging.view_team", "Inbox", 175),
            NavItem(
                "Agent report",
                "messaging:agent-report",
                "messaging.view_agent_report",
                "Inbox",
                180,
            ),
            NavItem(
                "Auto-replies",
                "messaging:autoreply-list",
                "messaging.view_autoreplyrule",
                "Inbox",
                170,
            ),
            NavItem("Numbers", "messaging:channel-list", "messaging.view_channel", "Setup", 600),
            NavItem(
                "Event webhooks",
                "messaging:webhook-list",
                "messaging.view_webhooksubscription",
                "Setup",
                620,
            ),
            NavItem(
                "Templates",
                "messaging:template-list",
                "messaging.view_messagetemplate",
                "Setup",
                610,
            ),
            NavItem(
                "Campaigns", "messaging:campaign-list", "messaging.view_campaign", "Engage", 200
            ),
            NavItem(
                "Content", "messaging:content-list", "messaging.view_contentitem", "Engage", 210
            ),
            NavItem(
                "Content review",
                "messaging:content-review",
                "messaging.review_contentitem",
                "Engage",
                215,
            ),
            NavItem(
                "Media library", "messaging:media-list", "messaging.view_mediaasset", "Engage", 225
            ),
            NavItem(
                "Notifications",
                "messaging:notification-list",
                "messaging.view_notification",
                "Engage",
                220,
            ),
        )
        crm_extension_register()
        home_sections_register()
        personal_data_register_messaging()
        campaign_send_hooks_register()
        media_users_register(campaigns_using_asset)
        header_example_source_register(library_header_examples)
        campaign_health_hooks_register()
        consent_events_connect()
        notification_events_register()
        # Scrape-time gauges of /metrics (README "Metrics and error reports").
        metrics_collector_register("webhook_backlog", webhook_backlog_collect)
        metrics_collector_register("campaign_progress", campaign_progress_collect)
