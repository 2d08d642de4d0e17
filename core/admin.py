from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.audit import audit_record
from core.csv_safe import csv_stream
from core.models import ApiToken, AuditAction, AuditEvent, WorkerHeartbeat
from core.services import api_token_create, api_token_revoke


@admin.action(description="Export selected rows as CSV")
def export_csv(modeladmin, request, queryset):
    """Every concrete column of the selected rows, streamed and safe from spreadsheet formulas."""
    fields = list(queryset.model._meta.concrete_fields)
    header = [f.attname for f in fields]
    rows = ([getattr(obj, f.attname) for f in fields] for obj in queryset.order_by("pk").iterator())
    name = queryset.model._meta.model_name
    audit_record(
        AuditAction.EXPORT,
        details={
            "what": queryset.model._meta.label_lower,
            "via": "admin",
            "rows": queryset.count(),
        },
    )
    response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="{name}-{timezone.now():%Y%m%d-%H%M}.csv"'
    )
    return response


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """A table written only by the system (messages, consent history, logs): browse and
    filter it, never add, change or delete a row by hand."""

    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyExportAdmin(ReadOnlyModelAdmin):
    """Read-only, with a formula-safe CSV export of the selected rows (events, rollups)."""

    actions = [export_csv]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins create tokens here; the key is shown once, in the confirmation message."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "state"]
    list_filter = ["revoked_at", "created_at"]
    search_fields = ["name", "prefix", "user__username"]
    fields = ["user", "name", "expires_at", "prefix", "created_at", "created_by", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at"]
    actions = ["revoke"]

    @admin.display(description="state")
    def state(self, obj: ApiToken) -> str:
        if obj.revoked_at:
            return "revoked"
        if obj.expires_at and obj.expires_at <= timezone.now():
            return "expired"
        return "active"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # a token's owner and name are fixed once issued
            return [*self.readonly_fields, "user", "name"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["expires_at"])
            return
        token, key = api_token_create(
            user=obj.user,
            name=obj.name,
            created_by=request.user,
            expires_at=obj.expires_at,
        )
        obj.pk = token.pk
        obj.__dict__.update(token.__dict__)
        messages.warning(
            request,
            f"Token for {token.user}: {key} — copy it now; it is not stored and will not be "
            "shown again.",
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead, so the audit trail stays


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "queues", "pid", "started_at", "last_seen_at"]
    readonly_fields = ["hostname", "queues", "pid", "started_at", "last_seen_at"]

    def has_add_permission(self, request):
        return False


# django-auditlog registers its own page for the log-entry model; this one is read-only.
if admin.site.is_registered(AuditEvent):
    admin.site.unregister(AuditEvent)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """The audit log, append-only: browse and filter, never add, change or delete.
    `/staff/audit/` is the page made for reading it (filters, before/after, CSV)."""

    list_display = ["timestamp", "action_name", "actor_label", "remote_addr", "content_type",
                    "object_pk", "object_repr"]  # fmt: skip
    list_filter = ["action_name", "timestamp"]
    list_select_related = ["content_type"]
    search_fields = ["actor_label", "object_repr", "object_pk"]
    date_hierarchy = "timestamp"
