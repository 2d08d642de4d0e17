from django.urls import path

from messaging.campaigns import api as campaigns
from messaging.sending import api as views

ACTIONS = ["launch", "schedule", "unschedule", "pause", "resume", "cancel"]

urlpatterns = [
    path("messages/", views.MessageListCreateView.as_view(), name="message-list"),
    path("messages/bulk/", campaigns.BulkSendView.as_view(), name="message-bulk"),
    path("messages/<uuid:id>/", views.MessageDetailView.as_view(), name="message-detail"),
    path("campaigns/", campaigns.CampaignListCreateView.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", campaigns.CampaignDetailView.as_view(), name="campaign-detail"),
    path(
        "campaigns/<int:pk>/preflight/",
        campaigns.CampaignPreflightView.as_view(),
        name="campaign-preflight",
    ),
    path(
        "campaigns/<int:pk>/progress/",
        campaigns.CampaignProgressView.as_view(),
        name="campaign-progress",
    ),
    *[
        path(
            f"campaigns/<int:pk>/{action}/",
            campaigns.CampaignActionView.as_view(action_name=action),
            name=f"campaign-{action}",
        )
        for action in ACTIONS
    ],
]

# --- Transactional notifications -------------------------------------------------------------
from messaging.notifications import api as notifications  # noqa: E402

urlpatterns += [
    path(
        "notifications/",
        notifications.NotificationListCreateView.as_view(),
        name="notification-list",
    ),
    path(
        "notifications/<int:pk>/",
        notifications.NotificationDetailView.as_view(),
        name="notification-detail",
    ),
    path(
        "notifications/<int:pk>/resend/",
        notifications.NotificationResendView.as_view(),
        name="notification-resend",
    ),
    path(
        "notification-types/",
        notifications.NotificationTypeListView.as_view(),
        name="notification-type-list",
    ),
    path(
        "contacts/<int:pk>/notification-preferences/",
        notifications.ContactNotificationPreferencesView.as_view(),
        name="contact-notification-preferences",
    ),
]

# --- Inbox and automation ------------------------------------------------------------------------
from messaging.inbox import api as inbox  # noqa: E402

urlpatterns += [
    path("conversations/", inbox.ConversationListView.as_view(), name="conversation-list"),
    path(
        "conversations/<int:pk>/",
        inbox.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<int:pk>/messages/",
        inbox.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<int:pk>/reply/",
        inbox.ConversationReplyView.as_view(),
        name="conversation-reply",
    ),
    *[
        path(
            f"conversations/<int:pk>/{action}/",
            inbox.ConversationActionView.as_view(action_name=action),
            name=f"conversation-{action}",
        )
        for action in ("assign", "close", "reopen", "read")
    ],
    path("messages/<uuid:id>/rating/", inbox.MessageRatingView.as_view(), name="message-rating"),
]
