"""Admin for conversations, teams, agents' availability, canned replies and surveys. Staff
manage teams and canned replies on their own pages (/staff/inbox/teams/,
/staff/inbox/canned-replies/); the admin stays for superusers and the odd repair."""

from django.contrib import admin

from core.admin import ReadOnlyModelAdmin, StaffScopedAdmin
from messaging.inbox.models import (
    AgentAvailability,
    CannedReply,
    SatisfactionSurvey,
    Team,
    TeamChannel,
    TeamMember,
)
from messaging.sending.models import Conversation


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["contact", "channel", "is_open", "assignee", "team", "last_activity_at"]
    list_filter = ["is_open", "channel", "team"]
    search_fields = ["contact__name", "contact__phone"]
    list_select_related = ["contact", "channel", "assignee", "team"]
    raw_id_fields = ["contact"]


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    fields = ["user", "joined_at"]
    readonly_fields = ["joined_at"]


class TeamChannelInline(admin.TabularInline):
    model = TeamChannel
    extra = 0
    verbose_name = "routed number"


@admin.register(Team)
class TeamAdmin(StaffScopedAdmin):
    list_display = ["name", "auto_assign", "last_assigned", "turns", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["last_assigned", "turns", "created_at"]
    fields = ["name", "auto_assign", "last_assigned", "turns", "created_at"]
    inlines = [TeamMemberInline, TeamChannelInline]
    staff_permissions = ("messaging.view_team",)


@admin.register(TeamMember)
class TeamMemberAdmin(StaffScopedAdmin):
    list_display = ["team", "user", "joined_at"]
    list_filter = ["team"]
    list_select_related = ["team", "user"]
    staff_permissions = ("messaging.view_team",)


@admin.register(TeamChannel)
class TeamChannelAdmin(StaffScopedAdmin):
    list_display = ["channel", "team"]
    list_select_related = ["channel", "team"]
    staff_permissions = ("messaging.view_team",)


@admin.register(AgentAvailability)
class AgentAvailabilityAdmin(StaffScopedAdmin):
    list_display = ["user", "available", "changed_at"]
    list_filter = ["available"]
    list_select_related = ["user"]
    staff_permissions = ("messaging.view_team",)


@admin.register(CannedReply)
class CannedReplyAdmin(StaffScopedAdmin):
    """Only for those who manage every team's replies: the admin cannot keep an agent to
    their own teams' (the staff page does)."""

    list_display = ["shortcut", "title", "team", "updated_at"]
    list_filter = ["team"]
    search_fields = ["shortcut", "title", "body"]
    list_select_related = ["team"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    staff_permissions = ("messaging.manage_cannedreply",)


@admin.register(SatisfactionSurvey)
class SatisfactionSurveyAdmin(ReadOnlyModelAdmin):
    list_display = ["conversation", "closed_at", "agent", "team", "rating", "rated_at"]
    list_filter = ["rating", "team"]
    list_select_related = ["conversation__contact", "agent", "team"]
    staff_permissions = ("messaging.view_agent_report",)
