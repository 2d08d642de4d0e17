"""API of campaigns: drafts, pre-flight, transitions, progress; and the bulk send."""

from django.urls import path

from messaging.campaigns import api as campaigns

ACTIONS = ["launch", "schedule", "unschedule", "pause", "resume", "cancel"]

urlpatterns = [
    path("messages/bulk/", campaigns.BulkSendView.as_view(), name="message-bulk"),
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
