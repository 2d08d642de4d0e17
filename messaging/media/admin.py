"""Admin for the media library: read only (uploads and deletions go through the staff page and
the API, which check the file and delete it with its row)."""

from django.contrib import admin

from core.admin import ReadOnlyModelAdmin
from messaging.media.models import MediaAsset, MediaUpload


class MediaUploadInline(admin.TabularInline):
    model = MediaUpload
    extra = 0
    can_delete = False
    fields = ["channel", "media_id", "uploaded_at", "expires_at", "uploads"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MediaAsset)
class MediaAssetAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "kind", "mime_type", "size", "created_at", "last_used_at"]
    list_filter = ["kind"]
    search_fields = ["name", "sha256"]
    inlines = [MediaUploadInline]


@admin.register(MediaUpload)
class MediaUploadAdmin(ReadOnlyModelAdmin):
    list_display = ["asset", "channel", "media_id", "uploaded_at", "expires_at", "uploads"]
    list_select_related = ["asset", "channel"]
    list_filter = ["channel"]
    search_fields = ["media_id", "asset__name"]
