"""Campaigns in the admin, read-only: a campaign changes only through its services (the staff
pages and the API), so its state machine, audience and counters stay consistent. The admin is
for looking things up; each row links to the campaign's staff page."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyExportAdmin, ReadOnlyModelAdmin
from messaging.campaigns.models import Campaign, CampaignTestSend, CampaignTransition


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyExportAdmin):
    list_display = ["name", "state", "channel", "template", "audience_size", "scheduled_at",
                    "launched_at", "completed_at", "staff_page"]  # fmt: skip
    list_filter = ["state", "is_adhoc", "channel", "created_at"]
    search_fields = ["name"]
    list_select_related = ["channel", "template"]
    date_hierarchy = "created_at"

    @admin.display(description="staff page")
    def staff_page(self, campaign):
        url = reverse("messaging:campaign-detail", args=[campaign.pk])
        return format_html('<a href="{}">open</a>', url)


@admin.register(CampaignTransition)
class CampaignTransitionAdmin(ReadOnlyModelAdmin):
    """Append-only history of campaigns' states: who launched, paused or cancelled, when."""

    list_display = ["created_at", "campaign", "from_state", "to_state", "actor", "note"]
    list_filter = ["to_state", "created_at"]
    search_fields = ["campaign__name", "note"]
    list_select_related = ["campaign", "actor"]


@admin.register(CampaignTestSend)
class CampaignTestSendAdmin(ReadOnlyModelAdmin):
    """Tests of campaigns sent to staff members' own numbers (append-only)."""

    list_display = ["created_at", "campaign", "sent_by", "message", "sample_contact"]
    list_filter = ["created_at"]
    search_fields = ["campaign__name", "sent_by__username"]
    list_select_related = ["campaign", "sent_by", "message", "sample_contact"]
    raw_id_fields = ["message", "sample_contact"]
