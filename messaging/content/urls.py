"""Staff pages of content for advisors (namespace `messaging`)."""

from django.urls import path

from messaging.content import views as content

urlpatterns = [
    path("content/", content.content_index, name="content-list"),
    path("content/new/", content.content_create, name="content-create"),
    path("content/review/", content.content_review, name="content-review"),
    path("content/distribute/", content.content_distribute_now, name="content-distribute"),
    path("content/<int:pk>/", content.content_detail, name="content-detail"),
    path("content/<int:pk>/edit/", content.content_edit, name="content-edit"),
    path("content/<int:pk>/<str:action>/", content.content_action, name="content-action"),
]
