"""The operations centre, mounted at /staff/operations/ with the `ops` namespace."""

from django.urls import path

from analytics.ops import views

urlpatterns = [
    path("", views.health, name="health"),
    path("health/", views.health_partial, name="health_partial"),
    path("board/", views.board, name="board"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/start/<slug:name>/", views.job_start_view, name="job_start"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job_progress"),
    path("jobs/<int:pk>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("backups/", views.backups, name="backups"),
    path("backups/<str:name>", views.backup_download, name="backup_download"),
    path("events/", views.events_page, name="events"),
    path("events/feed/", views.events_feed, name="events_feed"),
    path("errors/", views.errors, name="errors"),
    path("errors/webhooks/<int:pk>/", views.webhook_event, name="webhook_event"),
    path("errors/webhooks/<int:pk>/replay/", views.webhook_replay, name="webhook_replay"),
]
