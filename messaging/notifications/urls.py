"""Staff pages of transactional notifications (namespace `messaging`)."""

from django.urls import path

from messaging.notifications import views as notifications

urlpatterns = [
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
