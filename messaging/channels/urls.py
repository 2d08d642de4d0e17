"""Staff pages of channels: the WhatsApp numbers and their message templates."""

from django.urls import path

from messaging.channels import views

urlpatterns = [
    path("channels/", views.channel_list, name="channel-list"),
    path("channels/<int:channel_id>/edit/", views.channel_edit, name="channel-edit"),
    path("channels/<int:channel_id>/refresh/", views.channel_refresh, name="channel-refresh"),
    path("channels/<int:channel_id>/resume/", views.channel_resume_sending, name="channel-resume"),
    path("templates/", views.template_index, name="template-list"),
    path("templates/sync/", views.template_sync, name="template-sync"),
    path("templates/new/", views.template_new, name="template-new"),
    path("templates/<int:pk>/", views.template_detail, name="template-detail"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template-edit"),
    path("templates/<int:pk>/submit/", views.template_submit_view, name="template-submit"),
    path("templates/<int:pk>/delete/", views.template_delete_view, name="template-delete"),
]
