"""`GET /api/v1/audit-events/`: the audit log for Admin tokens (read-only: no write method)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError

from core.audit_filters import AuditFilterForm, audit_events
from core.models import AuditAction, AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    action = serializers.CharField(source="action_name")
    actor = serializers.CharField(source="actor_label")
    actor_id = serializers.IntegerField(allow_null=True)
    token_id = serializers.IntegerField(allow_null=True)
    address = serializers.IPAddressField(source="remote_addr", allow_null=True)
    object_type = serializers.SerializerMethodField()
    object_id = serializers.CharField(source="object_pk")
    object = serializers.CharField(source="object_repr")
    details = serializers.JSONField(source="additional_data", allow_null=True)
    request_id = serializers.CharField(source="cid", allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id", "timestamp", "action", "actor", "actor_id", "token_id", "address",
            "object_type", "object_id", "object", "changes", "details", "request_id",
        ]  # fmt: skip
        read_only_fields = fields

    def get_object_type(self, event) -> str | None:
        ct = event.content_type
        return f"{ct.app_label}.{ct.model}" if ct else None


_FILTERS = [
    OpenApiParameter("actor", str, description="User name, or part of a token's name."),
    OpenApiParameter("action", str, enum=AuditAction.values),
    OpenApiParameter("object_type", str, description="app.model, e.g. `crm.contact`."),
    OpenApiParameter("object_id", str),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="From this day (inclusive)."),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="To this day (inclusive)."),
]


class AuditEventList(generics.ListAPIView):
    """Audit events, newest first: who (user or token), when, from where, what, and the
    changed fields before and after. Admins only; the log is append-only, so there is no
    write method. Bad filter values answer 400."""

    serializer_class = AuditEventSerializer
    required_permissions = ["core.view_auditevent"]
    filter_backends: list = []

    def get_queryset(self):
        form = AuditFilterForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError({f: [str(m) for m in e] for f, e in form.errors.items()})
        return audit_events(form)

    @extend_schema(parameters=_FILTERS, tags=["audit"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
