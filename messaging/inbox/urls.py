"""Staff pages of the inbox (namespace `messaging`)."""

from django.urls import path

from messaging.inbox import views as inbox

urlpatterns = [
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/list/", inbox.inbox_list_partial, name="inbox-list"),
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
