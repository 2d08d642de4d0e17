"""Event webhook subscriptions API: create, list, read, update, delete, rotate the secret, the
delivery log and replays. The secret is in the answer to a create and a rotation only."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from core.api.filters import MomentFilter
from core.errors import DomainError
from messaging.hooks_out.models import DeliveryState, HookEvent, WebhookDelivery
from messaging.hooks_out.selectors import delivery_log, subscription_list
from messaging.hooks_out.services import (
    deliveries_replay,
    subscription_create,
    subscription_delete,
    subscription_rotate_secret,
    subscription_update,
)

VIEW = ["messaging.view_webhooksubscription"]
CHANGE = [*VIEW, "messaging.change_webhooksubscription"]
TAGS = ["webhook subscriptions"]


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=HookEvent.choices))
    is_active = serializers.BooleanField()
    secret_hint = serializers.CharField(source="secret_masked", help_text="The secret, masked.")
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    failing_since = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="Shown this once: keep it to verify signatures.")


class SubscriptionInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=2048, help_text="http(s); public addresses only.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=HookEvent.choices), allow_empty=False
    )
    is_active = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event_id", "event_type", "state", "attempts", "created_at", "next_attempt_at",
            "last_attempt_at", "delivered_at", "status_code", "latency_ms", "response_excerpt",
            "error", "replay_of",
        ]  # fmt: skip
        read_only_fields = fields


class ReplayInputSerializer(serializers.Serializer):
    delivery = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="One delivery's id, or:"
    )
    since = serializers.DateTimeField(required=False, help_text="Start of a time range.")
    until = serializers.DateTimeField(required=False, help_text="End of the range (excluded).")

    def validate(self, attrs):
        if not attrs.get("delivery") and not (attrs.get("since") and attrs.get("until")):
            raise serializers.ValidationError(
                {"delivery": "Give `delivery`, or `since` and `until`."}
            )
        return attrs


ReplayOutput = inline_serializer("WebhookReplay", {"queued": serializers.IntegerField()})


class SubscriptionListView(generics.ListCreateAPIView):
    """Event webhook subscriptions. POST creates one; its answer carries the secret, once."""

    serializer_class = SubscriptionSerializer
    required_permissions = {
        "GET": VIEW, "HEAD": VIEW, "POST": [*VIEW, "messaging.add_webhooksubscription"],
    }  # fmt: skip
    filter_backends: list = []

    def get_queryset(self):
        return subscription_list()

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=SubscriptionInputSerializer,
        responses={201: SubscriptionWithSecretSerializer},
        tags=TAGS,
    )
    def post(self, request, *args, **kwargs):
        serializer = SubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription = subscription_create(
            name=data["name"], url=data["url"], events=data["events"], created_by=request.user
        )
        if data.get("is_active") is False:
            subscription = subscription_update(subscription=subscription, is_active=False)
        return Response(
            SubscriptionWithSecretSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


class SubscriptionDetailView(generics.RetrieveAPIView):
    """One subscription. PATCH changes the fields given (PUT: all); DELETE removes it and
    its delivery log."""

    serializer_class = SubscriptionSerializer
    required_permissions = {
        "GET": VIEW, "HEAD": VIEW, "PUT": CHANGE, "PATCH": CHANGE,
        "DELETE": [*VIEW, "messaging.delete_webhooksubscription"],
    }  # fmt: skip

    def get_queryset(self):
        return subscription_list()

    def _update(self, request, *, partial: bool):
        subscription = self.get_object()
        serializer = SubscriptionInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        subscription = subscription_update(subscription=subscription, **serializer.validated_data)
        return Response(SubscriptionSerializer(subscription).data)

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=SubscriptionInputSerializer, responses=SubscriptionSerializer, tags=TAGS)
    def put(self, request, *args, **kwargs):
        return self._update(request, partial=False)

    @extend_schema(request=SubscriptionInputSerializer, responses=SubscriptionSerializer, tags=TAGS)
    def patch(self, request, *args, **kwargs):
        return self._update(request, partial=True)

    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request, *args, **kwargs):
        subscription_delete(subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionRotateSecretView(generics.GenericAPIView):
    """A new secret, effective at once; the answer carries it, once."""

    serializer_class = SubscriptionWithSecretSerializer
    required_permissions = CHANGE

    def get_queryset(self):
        return subscription_list()

    @extend_schema(request=None, responses=SubscriptionWithSecretSerializer, tags=TAGS)
    def post(self, request, pk):
        subscription = self.get_object()
        subscription_rotate_secret(subscription=subscription, actor=request.user)
        return Response(SubscriptionWithSecretSerializer(subscription).data)


class DeliveryFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices)
    event_type = django_filters.ChoiceFilter(choices=HookEvent.choices)
    event_id = django_filters.UUIDFilter()
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WebhookDelivery
        fields = ["state", "event_type", "event_id"]


class SubscriptionDeliveriesView(generics.ListAPIView):
    """A subscription's delivery log, newest first: state, attempts, the receiver's answer
    (status, latency, first bytes), the last error."""

    serializer_class = DeliverySerializer
    required_permissions = VIEW
    filterset_class = DeliveryFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no pk
            return WebhookDelivery.objects.none()
        subscription = get_object_or_404(subscription_list(), pk=self.kwargs["pk"])
        return delivery_log(subscription)

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SubscriptionReplayView(generics.GenericAPIView):
    """Send events again (same event ids, so receivers deduplicate): one delivery, or every
    event of [since, until). Audited."""

    serializer_class = ReplayInputSerializer
    required_permissions = CHANGE

    def get_queryset(self):
        return subscription_list()

    @extend_schema(request=ReplayInputSerializer, responses={202: ReplayOutput}, tags=TAGS)
    def post(self, request, pk):
        subscription = self.get_object()
        serializer = ReplayInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        delivery = None
        if data.get("delivery"):
            delivery = WebhookDelivery.objects.filter(
                pk=data["delivery"], subscription=subscription
            ).first()
            if delivery is None:
                raise DomainError(
                    "No such delivery for this subscription.", code="not_found",
                    details={"delivery": "unknown"},
                )  # fmt: skip
        queued = deliveries_replay(
            subscription=subscription, delivery=delivery, since=data.get("since"),
            until=data.get("until"), actor=request.user,
        )  # fmt: skip
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)
