from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.audit import audit_record
from core.csv_safe import csv_stream
from core.mfa.services import mfa_disable
from core.models import ApiToken, AuditAction, AuditEvent, IdempotencyKey, WorkerHeartbeat
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


class StaffScopedAdmin(admin.ModelAdmin):
    """Admin visibility follows the staff pages: besides the model's own permission, a user
    needs every permission in `staff_permissions`, those of the staff page that shows the same
    rows. (A role may read a model through a narrower door, e.g. reporting totals, without
    being meant to browse every row of it.)"""

    staff_permissions: tuple[str, ...] = ()

    def in_staff_scope(self, request) -> bool:
        return request.user.has_perms(self.staff_permissions)

    def has_module_permission(self, request):
        return self.in_staff_scope(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self.in_staff_scope(request) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self.in_staff_scope(request) and super().has_change_permission(request, obj)


class ReadOnlyModelAdmin(StaffScopedAdmin):
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


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyModelAdmin):
    """The stored first answers to `Idempotency-Key` requests: written by the API only."""

    list_display = ["created_at", "user", "scope", "key", "response_status"]
    list_filter = ["scope", "response_status", "created_at"]
    search_fields = ["=key", "user__username"]
    list_select_related = ["user"]


class UserAdmin(DjangoUserAdmin):
    """Django's user admin, with the operator's way out for a lost phone."""

    actions = [*(DjangoUserAdmin.actions or []), "reset_two_factor"]

    @admin.action(description="Reset two-factor sign-in", permissions=["change"])
    def reset_two_factor(self, request, queryset):
        for user in queryset:
            removed = mfa_disable(user=user)
            self.message_user(
                request,
                f"{user}: two-factor sign-in reset ({removed} device(s) removed)."
                if removed
                else f"{user} had no two-factor devices.",
            )


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserAdmin)
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
