"""API of channels: read-only number health."""

from django.urls import path

from messaging.channels import api

urlpatterns = [
    path("channels/", api.ChannelListView.as_view(), name="channel-list"),
    path(
        "channels/<str:phone_number_id>/",
        api.ChannelDetailView.as_view(),
        name="channel-detail",
    ),
]
