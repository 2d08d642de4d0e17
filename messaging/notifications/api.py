"""Notification API: send an event's template once per reference, list, resend, preferences,
statistics."""

from zoneinfo import ZoneInfo

import django_filters
from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.filters import MomentFilter
from core.errors import DomainError
from core.params import QueryParamError, query_period, query_text
from crm.models import Contact
from crm.selectors import contact_resolve
from messaging.channels.selectors import channels_active
from messaging.notifications.models import (
    Notification,
    NotificationPreferenceSource,
    NotificationType,
)
from messaging.notifications.names import (
    names_used,
    notification_type_aliases,
    notification_type_code,
)
from messaging.notifications.selectors import (
    STATISTICS_KEYS,
    notification_list,
    notification_preferences,
    notification_statistics,
    notifications_with_status,
)
from messaging.notifications.services import (
    notification_preference_set,
    notification_refusal,
    notification_required_variables,
    notification_resend,
    notification_send,
    notification_type_get,
)


class NotificationSendSerializer(serializers.Serializer):
    event_type = serializers.SlugField(help_text="e.g. order_confirmation")
    phone = serializers.CharField(required=False, help_text="E.164 phone of an existing contact.")
    # An id, not a related field: the view resolves it with the phone through
    # crm.selectors.contact_resolve, so an unknown id answers like an unknown phone.
    contact = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Contact id instead of phone."
    )
    variables = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=1000), required=False
    )
    reference_id = serializers.CharField(
        max_length=200, help_text="Your id for this event; the same id is never sent twice."
    )
    channel = serializers.SlugRelatedField(
        slug_field="phone_number_id", queryset=channels_active(),
        required=False, help_text="phone_number_id; optional with one channel.",
    )  # fmt: skip

    def validate(self, attrs):
        if not attrs.get("contact") and not attrs.get("phone"):
            raise serializers.ValidationError({"phone": "Give `phone` or `contact`."})
        return attrs


class NotificationSerializer(serializers.ModelSerializer):
    event_type = serializers.SerializerMethodField(
        help_text="The type's code, or the seed 004 name the request used for it "
        "(`pause_confirmation`, `churn_risk`)."
    )
    phone = serializers.CharField(source="contact.phone", allow_null=True)
    status = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id", "event_type", "contact", "phone", "reference_id", "attempt", "variables",
            "status", "refusal_code", "refusal_reason", "message", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_event_type(self, notification) -> str:
        code = notification.event_type.code
        return self.context.get("names_used", {}).get(code, code)

    def get_status(self, notification) -> str:
        return notification.status

    def get_message(self, notification) -> str | None:
        return str(notification.message.uuid) if notification.message_id else None


class NotificationFilter(django_filters.FilterSet):
    event_type = django_filters.CharFilter(method="filter_event_type")
    reference_id = django_filters.CharFilter()
    phone = django_filters.CharFilter(field_name="contact__phone")
    # Bounded so that an id no database column can hold is a 400, not a crash.
    contact = django_filters.NumberFilter(field_name="contact_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.CharFilter(method="filter_status")
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Notification
        fields = ["event_type", "reference_id", "phone", "contact", "status"]

    def filter_status(self, queryset, name, value):
        return notifications_with_status(queryset, value)

    def filter_event_type(self, queryset, name, value):
        return queryset.filter(event_type__code=notification_type_code(value))


def _answer(
    notification: Notification, *, created_status: int, names: dict[str, str] | None = None
) -> Response:
    refusal = notification_refusal(notification)
    if refusal is not None:
        raise refusal
    response = Response(
        NotificationSerializer(notification, context={"names_used": names or {}}).data,
        status=status.HTTP_200_OK if notification.replayed else created_status,
    )
    if notification.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class NotificationListCreateView(generics.ListCreateAPIView):
    """Send a transactional notification (once per event type and reference), or list them.

    A refusal answers 422 with its code (`notification_opted_out`,
    `notification_type_disabled`, `no_consent`, `template_unknown`,
    `notification_variables_missing`, ...) and is recorded; the same reference answers the same.
    """

    filterset_class = NotificationFilter
    search_fields = ["reference_id", "contact__phone", "contact__name"]
    ordering_fields = ["created_at"]
    throttle_scope = "send"

    def get_queryset(self):
        return notification_list()

    def get_serializer_context(self):
        names = names_used([self.request.query_params.get("event_type", "")])
        return {**super().get_serializer_context(), "names_used": names}

    def get_serializer_class(self):
        if self.request.method == "POST":
            return NotificationSendSerializer
        return NotificationSerializer

    def get_throttles(self):
        if self.request.method != "POST":
            self.throttle_scope = None
        return super().get_throttles()

    @extend_schema(
        request=NotificationSendSerializer,
        responses={202: NotificationSerializer, 200: NotificationSerializer},
    )
    def post(self, request, *args, **kwargs):
        serializer = NotificationSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        notification = notification_send(
            event_type=data["event_type"],
            contact=contact_resolve(contact_id=data.get("contact"), phone=data.get("phone")),
            variables=data.get("variables") or {},
            reference_id=data["reference_id"],
            channel=data.get("channel"),
            requested_by=request.user,
        )
        return _answer(
            notification,
            created_status=status.HTTP_202_ACCEPTED,
            names=names_used([data["event_type"]]),
        )


class NotificationDetailView(generics.RetrieveAPIView):
    serializer_class = NotificationSerializer

    def get_queryset(self):
        return notification_list()


class NotificationResendView(generics.GenericAPIView):
    """A new attempt with a new message, for a failed or refused notification."""

    required_permissions = ["messaging.resend_notification", "messaging.view_notification"]
    serializer_class = NotificationSerializer
    throttle_scope = "send"

    def get_queryset(self):
        return notification_list()

    @extend_schema(request=None, responses={202: NotificationSerializer})
    def post(self, request, pk):
        notification = notification_resend(notification=self.get_object(), actor=request.user)
        return _answer(notification, created_status=status.HTTP_202_ACCEPTED)


class NotificationTypeSerializer(serializers.ModelSerializer):
    required_variables = serializers.SerializerMethodField()
    aliases = serializers.SerializerMethodField(
        help_text="Other names accepted for this type (seed 004's), e.g. `churn_risk`."
    )

    class Meta:
        model = NotificationType
        fields = [
            "code", "aliases", "name", "description", "template_name", "template_language",
            "variables", "required_variables", "enabled",
        ]  # fmt: skip
        read_only_fields = fields

    def get_required_variables(self, event_type) -> list[str]:
        return notification_required_variables(event_type)

    def get_aliases(self, event_type) -> list[str]:
        return notification_type_aliases(event_type.code)


class NotificationTypeListView(generics.ListAPIView):
    """The event types, their templates and the variables each needs."""

    serializer_class = NotificationTypeSerializer
    pagination_class = None

    def get_queryset(self):
        return NotificationType.objects.order_by("code")


class PreferenceItemSerializer(serializers.Serializer):
    event_type = serializers.SlugField()
    opted_out = serializers.BooleanField()


class PreferencesInputSerializer(serializers.Serializer):
    preferences = PreferenceItemSerializer(many=True, allow_empty=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


PreferencesOutput = inline_serializer(
    "NotificationPreferences",
    {
        "contact": serializers.IntegerField(),
        "preferences": inline_serializer(
            "NotificationPreference",
            {
                "event_type": serializers.CharField(),
                "name": serializers.CharField(),
                "opted_out": serializers.BooleanField(),
            },
            many=True,
        ),
    },
)


class ContactNotificationPreferencesView(APIView):
    """Which event types a contact receives. PUT changes the listed types (others stay);
    every change is audited (source `api`)."""

    required_permissions = {
        "GET": ["crm.view_contact", "messaging.view_notificationpreference"],
        "HEAD": ["crm.view_contact", "messaging.view_notificationpreference"],
        "PUT": ["crm.view_contact", "messaging.change_notificationpreference"],
        "OPTIONS": [],
    }

    def _body(self, contact) -> dict:
        return {
            "contact": contact.pk,
            "preferences": [
                {"event_type": p["event_type"].code, "name": p["event_type"].name,
                 "opted_out": p["opted_out"]}
                for p in notification_preferences(contact)
            ],
        }  # fmt: skip

    @extend_schema(responses=PreferencesOutput, tags=["notifications"])
    def get(self, request, pk):
        return Response(self._body(get_object_or_404(Contact, pk=pk)))

    @extend_schema(
        request=PreferencesInputSerializer, responses=PreferencesOutput, tags=["notifications"]
    )
    def put(self, request, pk):
        contact = get_object_or_404(Contact, pk=pk)
        serializer = PreferencesInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        types = {t.code: t for t in NotificationType.objects.all()}
        for item in data["preferences"]:
            item["event_type"] = notification_type_code(item["event_type"])
        unknown = sorted({p["event_type"] for p in data["preferences"]} - set(types))
        if unknown:
            raise DomainError(
                f"Unknown event type(s): {', '.join(unknown)}.", code="notification_type_unknown",
                details={"event_types": sorted(types)},
            )  # fmt: skip
        for item in data["preferences"]:
            notification_preference_set(
                contact=contact, event_type=types[item["event_type"]],
                opted_out=item["opted_out"], source=NotificationPreferenceSource.API,
                actor=request.user, note=data.get("note", ""),
            )  # fmt: skip
        return Response(self._body(contact))


# --- Statistics ------------------------------------------------------------------------------

_COUNTS = {key: serializers.IntegerField() for key in STATISTICS_KEYS}
NotificationCounts = inline_serializer("NotificationCounts", _COUNTS)
NotificationStatistics = inline_serializer(
    "NotificationStatistics",
    {
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(help_text="Exclusive."),
        "types": serializers.DictField(
            child=NotificationCounts, help_text="Counts per event type, every type listed."
        ),
        "total": NotificationCounts,
    },
)


class NotificationStatisticsView(APIView):
    """Counts of the notifications requested over a period, by event type and status.

    `from` and `to` are dates (whole days in ANALYTICS_TIME_ZONE, as the dashboards cut them;
    `to` included) or
    date-times with a zone; without `to` the period ends now, without `from` it starts 7 days
    before its end; at most 366 days. `type` limits it to one event type (its code or seed
    004 name; the answer uses the name given). Each notification is in one status bucket:
    `queued` (queued, paused or sending), `sent` (WhatsApp accepted it), `delivered`,
    `read`, `failed`, `unknown` (the request may have reached WhatsApp; settled by webhook),
    `cancelled`, `refused` (the rules said no); `retried` counts those that took more than
    one try (a resend, or a provider retry) and overlaps the others; `total` is all of them.
    """

    required_permissions = ["messaging.view_notification"]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="Start: a date or a date-time"),
            OpenApiParameter("to", str, description="End: a date (included) or a date-time"),
            OpenApiParameter("type", str, description="One event type (code or seed name)"),
        ],
        responses=NotificationStatistics,
        tags=["notifications"],
    )
    def get(self, request):
        params = request.query_params
        start, end = query_period(params, tz=ZoneInfo(settings.ANALYTICS_TIME_ZONE))
        name = query_text(params.get("type"), name="type", max_length=64)
        event_type = None
        if name:
            try:
                event_type = notification_type_get(name)
            except DomainError as exc:
                raise QueryParamError("type", exc.message) from exc
        counts = notification_statistics(start=start, end=end, event_type=event_type)
        names = names_used([name])
        total = dict.fromkeys(STATISTICS_KEYS, 0)
        for bucket in counts.values():
            for key, value in bucket.items():
                total[key] += value
        return Response(
            {
                "from": start,
                "to": end,
                "types": {names.get(code, code): bucket for code, bucket in counts.items()},
                "total": total,
            }
        )
