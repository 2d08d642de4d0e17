"""Admin for tracked links (read only)."""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from core.admin import ReadOnlyModelAdmin
from messaging.links.models import LinkClick, TrackedLink


@admin.register(TrackedLink)
class TrackedLinkAdmin(ReadOnlyModelAdmin):
    list_display = ["token", "target", "contact", "campaign", "content_item", "click_count"]
    search_fields = ["=token", "url", "contact__phone"]
    list_select_related = ["contact", "campaign", "content_item"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(click_count=Count("clicks"))

    @admin.display(description="clicks", ordering="click_count")
    def click_count(self, link):
        return link.click_count

    @admin.display(description="URL")
    def target(self, link):
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', link.url, link.url[:80])


@admin.register(LinkClick)
class LinkClickAdmin(ReadOnlyModelAdmin):
    """Append-only clicks on tracked links (the address only as a keyed hash)."""

    list_display = ["clicked_at", "link", "is_bot", "user_agent"]
    list_filter = ["is_bot", "clicked_at"]
    search_fields = ["=link__token"]
    list_select_related = ["link"]
    date_hierarchy = "clicked_at"
