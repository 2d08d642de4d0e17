"""API of the inbox: conversations (list, start), their messages, replies, notes, actions,
answer ratings, canned replies."""

from django.urls import path

from messaging.inbox import api as inbox
from messaging.inbox import canned_api

urlpatterns = [
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
        "conversations/<int:pk>/notes/",
        inbox.ConversationNotesView.as_view(),
        name="conversation-notes",
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
    path("canned-replies/", canned_api.CannedReplyListView.as_view(), name="canned-reply-list"),
    path(
        "canned-replies/<int:pk>/",
        canned_api.CannedReplyDetailView.as_view(),
        name="canned-reply-detail",
    ),
]
