"""Staff pages of the inbox (namespace `messaging`): the inbox, starting a conversation,
teams, canned replies and the agent report.

`inbox/<int:pk>/notes/` comes before `inbox/<int:pk>/<str:action>/`, which would take it.
"""

from django.urls import path

from messaging.inbox import canned_views, report_views, start_views, team_views
from messaging.inbox import views as inbox

urlpatterns = [
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/list/", inbox.inbox_list_partial, name="inbox-list"),
    path("inbox/start/", start_views.inbox_start, name="inbox-start"),
    path("inbox/availability/", inbox.inbox_availability, name="inbox-availability"),
    path("inbox/media/<int:message_id>/", inbox.inbox_media, name="inbox-media"),
    path("inbox/answers/<int:pk>/rate/", inbox.inbox_rate, name="inbox-rate"),
    path("inbox/teams/", team_views.team_list, name="team-list"),
    path("inbox/teams/new/", team_views.team_create, name="team-create"),
    path("inbox/teams/<int:pk>/edit/", team_views.team_edit, name="team-edit"),
    path("inbox/teams/<int:pk>/delete/", team_views.team_remove, name="team-delete"),
    path("inbox/numbers/<int:pk>/survey/", team_views.channel_survey, name="channel-survey"),
    path("inbox/canned-replies/", canned_views.canned_list, name="canned-list"),
    path("inbox/canned-replies/new/", canned_views.canned_create, name="canned-create"),
    path("inbox/canned-replies/<int:pk>/edit/", canned_views.canned_edit, name="canned-edit"),
    path("inbox/canned-replies/<int:pk>/delete/", canned_views.canned_remove, name="canned-delete"),
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
    path("inbox/<int:pk>/reply/library/", inbox.inbox_reply_library, name="inbox-reply-library"),
    path("inbox/<int:pk>/notes/", inbox.inbox_note, name="inbox-note"),
    path("inbox/<int:pk>/<str:action>/", inbox.inbox_action, name="inbox-action"),
    path("reports/agents/", report_views.agent_report_page, name="agent-report"),
    path("reports/agents/export.csv", report_views.agent_report_export, name="agent-report-csv"),
]
