"""API of channels: read-only number health, and the templates."""

from django.urls import path

from messaging.channels import api

urlpatterns = [
    path("channels/", api.ChannelListView.as_view(), name="channel-list"),
    path(
        "channels/<str:phone_number_id>/",
        api.ChannelDetailView.as_view(),
        name="channel-detail",
    ),
    path("templates/", api.TemplateListCreateView.as_view(), name="template-list"),
    path("templates/<int:pk>/", api.TemplateDetailView.as_view(), name="template-detail"),
    path("templates/<int:pk>/submit/", api.TemplateSubmitView.as_view(), name="template-submit"),
]
