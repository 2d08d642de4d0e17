"""Staff pages for the inbox's setup: teams (members, routed numbers, automatic assignment)
and, per number, the satisfaction survey after closing."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from messaging.channels.selectors import channels_active
from messaging.inbox.forms import TeamForm
from messaging.inbox.models import Team
from messaging.inbox.routing import team_delete, team_save, teams_with_members
from messaging.inbox.survey import survey_channel_set


@require_GET
@staff_permission_required("messaging.view_team")
def team_list(request):
    channels = list(channels_active().select_related("route__team").order_by("name", "pk"))
    return render(
        request,
        "messaging/inbox/teams.html",
        {"teams": teams_with_members(), "channels": channels},
    )


def _team_form_page(request, *, team: Team | None):
    if request.method == "POST":
        form = TeamForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                team = team_save(
                    team=team,
                    name=data["name"],
                    auto_assign=data["auto_assign"],
                    member_ids=[u.pk for u in data["members"]],
                    channel_ids=[c.pk for c in data["channels"]],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Team {team.name} saved.")
                return redirect("messaging:team-list")
    elif team is not None:
        form = TeamForm(
            initial={
                "name": team.name,
                "auto_assign": team.auto_assign,
                "members": list(team.members.all()),
                "channels": list(team.channels.all()),
            }
        )
    else:
        form = TeamForm()
    status = 422 if request.method == "POST" else 200
    return render(
        request, "messaging/inbox/team_form.html", {"form": form, "team": team}, status=status
    )


@require_http_methods(["GET", "POST"])
@staff_permission_required("messaging.view_team", "messaging.add_team")
def team_create(request):
    return _team_form_page(request, team=None)


@require_http_methods(["GET", "POST"])
@staff_permission_required("messaging.view_team", "messaging.change_team")
def team_edit(request, pk):
    return _team_form_page(request, team=get_object_or_404(Team, pk=pk))


@require_POST
@staff_permission_required("messaging.view_team", "messaging.delete_team")
def team_remove(request, pk):
    team = get_object_or_404(Team, pk=pk)
    team_delete(team=team)
    messages.success(request, f"Team {team.name} deleted.")
    return redirect("messaging:team-list")


@require_POST
@staff_permission_required("messaging.view_team", "messaging.change_channel")
def channel_survey(request, pk):
    channel = get_object_or_404(channels_active(), pk=pk)
    enabled = request.POST.get("enabled") == "1"
    survey_channel_set(channel=channel, enabled=enabled)
    messages.success(
        request,
        f"{channel.name}: customers are asked for a rating after a close."
        if enabled
        else f"{channel.name}: no rating is asked after a close.",
    )
    return redirect("messaging:team-list")
