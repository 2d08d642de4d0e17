"""Reporting and conversion API serializers: separate input and output shapes."""

from __future__ import annotations

from rest_framework import serializers

from analytics.models import CampaignPerformance, ConversionEvent, ConversionType
from messaging.models import Status
from messaging.providers.error_codes import error_code_info

STATUS_NAMES = {s.name.lower(): s.value for s in Status}


class ConversionInputSerializer(serializers.Serializer):
    reference_id = serializers.CharField(
        max_length=200, help_text="Your id for this event: a repeat returns the first conversion."
    )
    type = serializers.ChoiceField(choices=ConversionType.choices)
    phone = serializers.CharField(
        required=False, max_length=32, help_text="E.164 phone of an existing contact."
    )
    # An id, not a related field: the view resolves it with the phone through
    # crm.selectors.contact_resolve, so an unknown id answers like an unknown phone.
    contact = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Contact id instead of phone."
    )
    value = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, default=0,
        help_text="What it is worth (orders, payments, subscriptions).",
    )  # fmt: skip
    currency = serializers.CharField(
        max_length=3, required=False, allow_blank=True,
        help_text="ISO 4217; default ANALYTICS_CURRENCY.",
    )  # fmt: skip
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When it happened (with a time zone); default now."
    )
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Custom events: the name."
    )
    page_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Page views: the page."
    )
    session_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    source = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Your label (web, app, pos)."
    )

    def validate(self, attrs):
        if not attrs.get("contact") and not attrs.get("phone"):
            raise serializers.ValidationError({"phone": "Give `phone` or `contact`."})
        return attrs


class AttributionSerializer(serializers.Serializer):
    source = serializers.CharField(source="attribution_source")
    message = serializers.SerializerMethodField()
    campaign = serializers.IntegerField(source="attributed_campaign_id", allow_null=True)
    content_item = serializers.IntegerField(source="attributed_content_item_id", allow_null=True)
    notification = serializers.IntegerField(source="attributed_notification_id", allow_null=True)
    touched_at = serializers.DateTimeField(allow_null=True)

    def get_message(self, conversion) -> str | None:
        message = conversion.attributed_message
        return str(message.uuid) if message is not None else None


class ConversionSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="contact.phone", allow_null=True)
    attribution = AttributionSerializer(source="*")

    class Meta:
        model = ConversionEvent
        fields = [
            "id", "reference_id", "type", "name", "page_name", "session_id", "value", "currency",
            "value_base", "occurred_at", "contact", "phone", "source", "attribution",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class MessageStatusSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    wamid = serializers.CharField(allow_null=True)
    contact = serializers.IntegerField(source="contact_id")
    phone = serializers.CharField(source="contact.phone", allow_null=True)
    channel = serializers.IntegerField(source="channel_id")
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True)
    type = serializers.CharField()
    status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)
    error_code = serializers.IntegerField(allow_null=True)
    error_title = serializers.CharField()
    error_meaning = serializers.SerializerMethodField()

    def get_status(self, message) -> str:
        return Status(message.status).name.lower()

    def get_error_meaning(self, message) -> str | None:
        if message.status != Status.FAILED:
            return None
        return error_code_info(message.error_code).meaning


class InboundSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    wamid = serializers.CharField(allow_null=True)
    contact = serializers.IntegerField(source="contact_id")
    phone = serializers.CharField(source="contact.phone", allow_null=True)
    name = serializers.CharField(source="contact.display_name")
    channel = serializers.IntegerField(source="channel_id")
    type = serializers.CharField()
    text = serializers.SerializerMethodField()
    received_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_text(self, message) -> str:
        content = message.content if isinstance(message.content, dict) else {}
        for key in ("body", "text", "title", "caption", "payload", "emoji"):
            value = content.get(key)
            if isinstance(value, str) and value:
                return value[:1000]
        return ""


class CampaignDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignPerformance
        fields = [
            "day", "targeted", "sent", "delivered", "read", "failed", "errors", "replied",
            "clicked", "converted", "conversions", "revenue", "cost", "roi", "hourly_sent",
            "computed_at",
        ]  # fmt: skip
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    count = serializers.IntegerField()
    meaning = serializers.CharField()


class FunnelStepSerializer(serializers.Serializer):
    step = serializers.CharField()
    count = serializers.IntegerField()
    counts = serializers.ChoiceField(
        choices=["messages", "contacts"],
        help_text="What `count` counts: messages (targeted, sent, delivered, read) or distinct "
        "contacts within the attribution window (replied, clicked, converted).",
    )
    share = serializers.FloatField(allow_null=True)


class CampaignSummarySerializer(serializers.Serializer):
    campaign = serializers.DictField()
    total = CampaignDaySerializer(allow_null=True)
    funnel = FunnelStepSerializer(many=True)
    errors = ErrorSerializer(many=True)
    hourly_sent = serializers.ListField(child=serializers.IntegerField())
    days = CampaignDaySerializer(many=True)


class DashboardTotalsSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    inbound = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True)
    read_rate = serializers.FloatField(allow_null=True)
    failure_rate = serializers.FloatField(allow_null=True)
    opt_ins = serializers.IntegerField()
    opt_outs = serializers.IntegerField()
    new_contacts = serializers.IntegerField()
    button_clicks = serializers.IntegerField()
    link_clicks = serializers.IntegerField()
    conversations_opened = serializers.IntegerField()
    advisors_served = serializers.IntegerField()
    content_created = serializers.IntegerField()
    content_approved = serializers.IntegerField()
    content_distributed = serializers.IntegerField()
    notifications_sent = serializers.IntegerField()
    conversions = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_attributed = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_campaign = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_content = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_notification = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_organic = serializers.DecimalField(max_digits=18, decimal_places=2)
    cost = serializers.DecimalField(max_digits=18, decimal_places=4)
    roi = serializers.FloatField(allow_null=True)
    average_rating = serializers.FloatField(allow_null=True)


class DashboardTodaySerializer(serializers.Serializer):
    day = serializers.DateField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True)
    read_rate = serializers.FloatField(allow_null=True)
    inbound = serializers.IntegerField()
    opt_outs = serializers.IntegerField()
    new_contacts = serializers.IntegerField()
    conversions = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_attributed = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_organic = serializers.DecimalField(max_digits=18, decimal_places=2)


class DashboardDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    opt_outs = serializers.IntegerField(allow_null=True)
    conversions = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_attributed = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_organic = serializers.DecimalField(max_digits=18, decimal_places=2)
    cost = serializers.DecimalField(max_digits=18, decimal_places=4)


class DashboardSerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    currency = serializers.CharField()
    totals = DashboardTotalsSerializer()
    today = DashboardTodaySerializer()
    days = DashboardDaySerializer(many=True)


class PageViewRowSerializer(serializers.Serializer):
    views = serializers.IntegerField(help_text="Page views (events).")
    contacts = serializers.IntegerField(help_text="Distinct contacts who viewed.")


class PageViewPageSerializer(PageViewRowSerializer):
    page = serializers.CharField()


class PageViewSourceSerializer(PageViewRowSerializer):
    source = serializers.CharField(help_text="The caller's `source` label; empty when none.")


class PageViewDaySerializer(PageViewRowSerializer):
    day = serializers.DateField()


class PageViewReportSerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    views = serializers.IntegerField()
    contacts = serializers.IntegerField(help_text="Distinct contacts over the whole period.")
    pages = PageViewPageSerializer(many=True)
    sources = PageViewSourceSerializer(many=True)
    days = PageViewDaySerializer(many=True)


class RevenueTotalsSerializer(serializers.Serializer):
    conversions = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_attributed = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_organic = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_campaign = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_content = serializers.DecimalField(max_digits=18, decimal_places=2)
    revenue_notification = serializers.DecimalField(max_digits=18, decimal_places=2)
    cost = serializers.DecimalField(max_digits=18, decimal_places=4)
    roi = serializers.FloatField(allow_null=True, help_text="(attributed - cost) / cost")


class RevenueNumberSerializer(serializers.Serializer):
    channel = serializers.IntegerField(source="channel_id", allow_null=True)
    name = serializers.CharField()
    number = serializers.CharField()
    conversions = serializers.IntegerField(allow_null=True)
    attributed = serializers.DecimalField(max_digits=18, decimal_places=2)
    organic = serializers.DecimalField(max_digits=18, decimal_places=2)
    cost = serializers.DecimalField(max_digits=18, decimal_places=4)
    roi = serializers.FloatField(allow_null=True)


class RevenueLabelSerializer(serializers.Serializer):
    source = serializers.CharField(source="label")
    conversions = serializers.IntegerField()
    attributed = serializers.DecimalField(max_digits=18, decimal_places=2)
    organic = serializers.DecimalField(max_digits=18, decimal_places=2)
    total = serializers.DecimalField(source="revenue", max_digits=18, decimal_places=2)


class PriceRateSerializer(serializers.Serializer):
    market = serializers.CharField(help_text="Country code; empty: Rest of World.")
    category = serializers.CharField()
    rate = serializers.DecimalField(max_digits=12, decimal_places=6)


class PriceCardSerializer(serializers.Serializer):
    name = serializers.CharField()
    effective_from = serializers.DateField()
    currency = serializers.CharField()
    source = serializers.CharField()
    rates = PriceRateSerializer(many=True, source="rates.all")


class RevenueReportSerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    currency = serializers.CharField()
    totals = RevenueTotalsSerializer()
    by_number = RevenueNumberSerializer(many=True)
    by_source = RevenueLabelSerializer(many=True)
    price_card = PriceCardSerializer(allow_null=True)


class TemplateErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    meaning = serializers.CharField()
    count = serializers.IntegerField()


class TemplateReportRowSerializer(serializers.Serializer):
    """One template's figures over the period (README "Metrics glossary", Templates)."""

    id = serializers.IntegerField()
    channel = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField()
    category = serializers.CharField()
    status = serializers.CharField(help_text="Meta's status of the template, as last synced.")
    quality = serializers.CharField(help_text="Meta's quality rating; empty until rated.")
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    replied = serializers.IntegerField(
        help_text="Sends of the period their contact answered within the attribution window."
    )
    clicked = serializers.IntegerField(
        help_text="Sends of the period whose button was tapped or tracked link clicked by a "
        "person within the attribution window."
    )
    failed = serializers.IntegerField()
    errors = TemplateErrorSerializer(many=True)
    cost = serializers.DecimalField(max_digits=16, decimal_places=4)
    delivery_rate = serializers.FloatField(allow_null=True)
    read_rate = serializers.FloatField(allow_null=True)
    reply_rate = serializers.FloatField(allow_null=True)
    click_rate = serializers.FloatField(allow_null=True)


class TemplateReportSerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    currency = serializers.CharField()
    reply_window_days = serializers.IntegerField(
        help_text="Replies count within this many days of the send (ATTRIBUTION_WINDOW_DAYS)."
    )
    templates = TemplateReportRowSerializer(many=True)
