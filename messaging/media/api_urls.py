"""API of the media library."""

from django.urls import path

from messaging.media import api as media

urlpatterns = [
    path("media/", media.MediaAssetListCreateView.as_view(), name="media-list"),
    path("media/<int:pk>/", media.MediaAssetDetailView.as_view(), name="media-detail"),
]
