"""Channels API (read-only): each number's health and messaging-limit budget."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers

from messaging.channels.models import HealthSource, MessagingTier, NumberStatus, QualityRating
from messaging.channels.selectors import channel_health, channels_with_health


class ChannelHealthSerializer(serializers.Serializer):
    """A channel as `channel_health` describes it (output only)."""

    name = serializers.CharField()
    phone_number_id = serializers.CharField()
    display_phone_number = serializers.CharField()
    quality = serializers.ChoiceField(choices=QualityRating.choices)
    quality_updated_at = serializers.DateTimeField(allow_null=True)
    quality_source = serializers.ChoiceField(choices=HealthSource.choices, allow_blank=True)
    tier = serializers.CharField(
        allow_blank=True,
        help_text=f"Meta's messaging tier ({', '.join(MessagingTier.values)}, ...); "
        "empty until Meta reports it.",
    )
    limit = serializers.IntegerField(
        allow_null=True, help_text="Unique recipients per moving 24 hours; null: unlimited."
    )
    tier_updated_at = serializers.DateTimeField(allow_null=True)
    tier_source = serializers.ChoiceField(choices=HealthSource.choices, allow_blank=True)
    status = serializers.CharField(
        help_text=f"Meta's status of the number ({', '.join(NumberStatus.values)}, ...)."
    )
    status_detail = serializers.CharField(allow_blank=True)
    status_updated_at = serializers.DateTimeField(allow_null=True)
    status_source = serializers.ChoiceField(choices=HealthSource.choices, allow_blank=True)
    recipients_24h = serializers.IntegerField(
        help_text="Unique contacts sent a template the provider accepted in the last 24 hours."
    )
    budget_left = serializers.IntegerField(
        allow_null=True,
        help_text="How many more people it may reach with business-initiated messages now; "
        "0 while restricted; null: unlimited.",
    )
    updated_at = serializers.DateTimeField(
        allow_null=True, help_text="The latest of the three figures' updates."
    )

    def to_representation(self, instance):
        return super().to_representation(channel_health(instance))


class _ChannelHealthView:
    serializer_class = ChannelHealthSerializer
    ordering_fields = ["name", "phone_number_id"]

    def get_queryset(self):
        return channels_with_health()


@extend_schema_view(get=extend_schema(summary="Every number's health and budget"))
class ChannelListView(_ChannelHealthView, generics.ListAPIView):
    """Quality rating, messaging tier and limit, status, unique recipients of the last 24
    hours and the budget left, for every channel (permission `messaging.view_channel`)."""

    search_fields = ["name", "phone_number_id", "display_phone_number"]


@extend_schema_view(get=extend_schema(summary="One number's health and budget"))
class ChannelDetailView(_ChannelHealthView, generics.RetrieveAPIView):
    lookup_field = "phone_number_id"
