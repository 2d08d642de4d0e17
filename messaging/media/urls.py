"""Staff pages of the media library (namespace `messaging`)."""

from django.urls import path

from messaging.media import views as media

urlpatterns = [
    path("media/", media.media_index, name="media-list"),
    path("media/<int:pk>/file/", media.media_file, name="media-file"),
    path("media/<int:pk>/delete/", media.media_delete, name="media-delete"),
]
