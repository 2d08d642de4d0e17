"""API of transactional notifications."""

from django.urls import path

from messaging.notifications import api as notifications

urlpatterns = [
    path(
        "notifications/",
        notifications.NotificationListCreateView.as_view(),
        name="notification-list",
    ),
    path(
        "notifications/statistics/",
        notifications.NotificationStatisticsView.as_view(),
        name="notification-statistics",
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
