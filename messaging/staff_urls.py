"""Staff pages of messaging, under /staff/."""

from django.urls import path

from messaging.campaigns import views as campaigns

urlpatterns = [
    path("campaigns/", campaigns.campaign_index, name="campaign-list"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign-create"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/edit/", campaigns.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/mapping/", campaigns.campaign_mapping, name="campaign-mapping"),
    path(
        "campaigns/<int:pk>/progress/",
        campaigns.campaign_progress_partial,
        name="campaign-progress",
    ),
    path("campaigns/<int:pk>/<str:action>/", campaigns.campaign_action, name="campaign-action"),
]

# --- Content for advisors and transactional notifications ---------------------------------------
from messaging.content import views as content  # noqa: E402
from messaging.notifications import views as notifications  # noqa: E402

urlpatterns += [
    path("content/", content.content_index, name="content-list"),
    path("content/new/", content.content_create, name="content-create"),
    path("content/review/", content.content_review, name="content-review"),
    path("content/distribute/", content.content_distribute_now, name="content-distribute"),
    path("content/<int:pk>/", content.content_detail, name="content-detail"),
    path("content/<int:pk>/edit/", content.content_edit, name="content-edit"),
    path("content/<int:pk>/<str:action>/", content.content_action, name="content-action"),
    path("notifications/", notifications.notification_index, name="notification-list"),
    path(
        "notifications/<int:pk>/resend/",
        notifications.notification_resend_view,
        name="notification-resend",
    ),
    path(
        "contacts/<int:pk>/notification-preferences/",
        notifications.contact_notification_preferences,
        name="contact-notification-preferences",
    ),
]

# --- Inbox and automation ------------------------------------------------------------------------
from messaging.automation import views as faq  # noqa: E402
from messaging.inbox import views as inbox  # noqa: E402

urlpatterns += [
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/list/", inbox.inbox_list_partial, name="inbox-list"),
    path("inbox/faq/", faq.faq_list, name="faq-list"),
    path("inbox/faq/new/", faq.faq_create, name="faq-create"),
    path("inbox/faq/<int:pk>/", faq.faq_edit, name="faq-edit"),
    path("inbox/faq/<int:pk>/delete/", faq.faq_delete, name="faq-delete"),
    path("inbox/media/<int:message_id>/", inbox.inbox_media, name="inbox-media"),
    path("inbox/answers/<int:pk>/rate/", inbox.inbox_rate, name="inbox-rate"),
    path("inbox/<int:pk>/", inbox.inbox_thread, name="inbox-thread"),
    path("inbox/<int:pk>/thread/", inbox.inbox_thread_partial, name="inbox-thread-partial"),
    path("inbox/<int:pk>/reply/", inbox.inbox_reply, name="inbox-reply"),
    path(
        "inbox/<int:pk>/reply/template/<int:template_id>/",
        inbox.inbox_reply_template,
        name="inbox-reply-template",
    ),
    path("inbox/<int:pk>/reply/media/", inbox.inbox_reply_media, name="inbox-reply-media"),
    path("inbox/<int:pk>/reply/link/", inbox.inbox_reply_link, name="inbox-reply-link"),
    path("inbox/<int:pk>/<str:action>/", inbox.inbox_action, name="inbox-action"),
]
