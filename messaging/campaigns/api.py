"""Campaign API: drafts, pre-flight, transitions, progress; and the bulk send endpoint."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import idempotent
from core.errors import DomainError
from crm.models import Segment, Tag
from messaging.campaigns import services as svc
from messaging.campaigns.bulk import MAX_RECIPIENTS, bulk_send_create
from messaging.campaigns.models import Campaign
from messaging.campaigns.selectors import campaign_list, campaign_preflight, campaign_progress
from messaging.channels.models import MessageTemplate
from messaging.channels.selectors import ChannelUnknown, channel_for, channels_active


class CampaignInputSerializer(serializers.ModelSerializer):
    """Checks a draft's fields; `campaign_create` and `campaign_update` write them.

    A ModelSerializer for the model's field rules only: it never saves (the views pass
    `validated_data` to the services, which also own the template-and-channel rule).
    A campaign has no cost fields: each message is priced from Meta's price card when it is
    sent. `cost_per_message` and `currency`, removed, are ignored like any unknown field, so
    older clients keep working.
    """

    channel = serializers.SlugRelatedField(slug_field="phone_number_id", queryset=channels_active())
    template = serializers.PrimaryKeyRelatedField(queryset=MessageTemplate.objects.all())
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(), required=False, allow_null=True
    )
    tags = serializers.SlugRelatedField(
        slug_field="name", queryset=Tag.objects.all(), many=True, required=False
    )

    class Meta:
        model = Campaign
        fields = [
            "name", "description", "channel", "template", "parameter_mapping", "segment", "tags",
            "tags_match", "schedule_timezone", "throttle_mps", "spread_over_budget",
        ]  # fmt: skip

    def save(self, **kwargs):
        raise NotImplementedError("Input only: call campaign_create or campaign_update.")


class CampaignSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.phone_number_id")
    template = serializers.SerializerMethodField()
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "description", "state", "channel", "template", "parameter_mapping",
            "segment", "tags", "tags_match", "scheduled_at", "schedule_timezone", "throttle_mps",
            "is_adhoc", "audience_size", "excluded", "pause_reason", "auto_paused",
            "spread_over_budget", "budget_paused", "created_at", "launched_at", "paused_at",
            "completed_at", "cancelled_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_template(self, campaign) -> dict | None:
        """The template and whether it may go: its status and Meta's rejection reason."""
        t = campaign.template
        if t is None:
            return None
        return {
            "id": t.pk, "name": t.name, "language": t.language, "category": t.category,
            "status": t.status, "rejected_reason": t.rejected_reason,
        }  # fmt: skip


class CampaignListCreateView(generics.ListCreateAPIView):
    filterset_fields = ["state", "is_adhoc"]
    search_fields = ["name"]

    def get_queryset(self):
        return campaign_list()

    def get_serializer_class(self):
        return CampaignInputSerializer if self.request.method == "POST" else CampaignSerializer

    @extend_schema(request=CampaignInputSerializer, responses={201: CampaignSerializer})
    def post(self, request, *args, **kwargs):
        serializer = CampaignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = svc.campaign_create(created_by=request.user, **serializer.validated_data)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailView(generics.RetrieveUpdateAPIView):
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return campaign_list()

    def get_serializer_class(self):
        return CampaignInputSerializer if self.request.method == "PATCH" else CampaignSerializer

    @extend_schema(request=CampaignInputSerializer, responses=CampaignSerializer)
    def patch(self, request, *args, **kwargs):
        campaign = self.get_object()
        serializer = CampaignInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        campaign = svc.campaign_update(
            campaign=campaign, actor=request.user, **serializer.validated_data
        )
        return Response(CampaignSerializer(campaign).data)


PreflightSerializer = inline_serializer(
    "CampaignPreflight",
    {
        "ok": serializers.BooleanField(),
        "problems": serializers.ListField(child=serializers.CharField()),
        "audience": serializers.IntegerField(),
        "sendable": serializers.IntegerField(),
        "excluded": serializers.DictField(child=serializers.IntegerField()),
        "recipients_last_24h": serializers.IntegerField(),
        "unique_recipient_limit": serializers.IntegerField(
            allow_null=True, help_text="The number's messaging limit; null: unlimited."
        ),
        "budget_left": serializers.IntegerField(
            allow_null=True,
            help_text="Contacts campaigns may still queue on the number now; null: unlimited.",
        ),
        "over_budget": serializers.IntegerField(),
        "spread_over_budget": serializers.BooleanField(),
        "budget_problem": serializers.CharField(allow_blank=True),
    },
)


class CampaignPreflightView(generics.GenericAPIView):
    def get_queryset(self):
        return campaign_list()

    @extend_schema(responses=PreflightSerializer)
    def get(self, request, pk):
        return Response(campaign_preflight(self.get_object()).as_dict())


class CampaignProgressView(generics.GenericAPIView):
    def get_queryset(self):
        return campaign_list()

    @extend_schema(
        responses=inline_serializer("CampaignProgress", {"state": serializers.CharField()})
    )
    def get(self, request, pk):
        return Response(campaign_progress(self.get_object()))


class CampaignActionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)
    scheduled_at = serializers.DateTimeField(required=False)
    spread_over_budget = serializers.BooleanField(
        required=False,
        help_text="launch: send past the number's messaging limit, spread as the 24-hour "
        "window frees room (sets the campaign's field).",
    )


class CampaignActionView(generics.GenericAPIView):
    """POST launch | schedule | unschedule | pause | resume | cancel."""

    required_permissions = ["messaging.launch_campaign", "messaging.view_campaign"]
    serializer_class = CampaignActionSerializer
    action_name = ""

    def get_queryset(self):
        return campaign_list()

    @extend_schema(request=CampaignActionSerializer, responses=CampaignSerializer)
    def post(self, request, pk):
        campaign = self.get_object()
        data = CampaignActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        args = data.validated_data
        user = request.user
        action = self.action_name
        if action == "launch":
            campaign = svc.campaign_launch(
                campaign=campaign,
                launched_by=user,
                spread_over_budget=args.get("spread_over_budget"),
            )
        elif action == "schedule":
            if "scheduled_at" not in args:
                raise DomainError("scheduled_at is required.", code="invalid")
            campaign = svc.campaign_schedule(
                campaign=campaign, scheduled_at=args["scheduled_at"], scheduled_by=user
            )
        elif action == "unschedule":
            campaign = svc.campaign_unschedule(campaign=campaign, actor=user)
        elif action == "pause":
            campaign = svc.campaign_pause(
                campaign=campaign, actor=user, reason=args.get("reason", "")
            )
        elif action == "resume":
            campaign = svc.campaign_resume(campaign=campaign, actor=user)
        elif action == "cancel":
            campaign = svc.campaign_cancel(
                campaign=campaign, actor=user, reason=args.get("reason", "")
            )
        return Response(CampaignSerializer(campaign).data)


class BulkRecipientSerializer(serializers.Serializer):
    to = serializers.CharField()
    parameters = serializers.DictField(required=False)
    components = serializers.ListField(child=serializers.DictField(), required=False)


class BulkSendSerializer(serializers.Serializer):
    channel = serializers.SlugRelatedField(
        slug_field="phone_number_id",
        queryset=channels_active(),
        required=False,
    )
    name = serializers.CharField(required=False, max_length=200)
    type = serializers.ChoiceField(choices=["template", "text", "image", "document", "video"])
    template = serializers.DictField(required=False)
    text = serializers.DictField(required=False)
    image = serializers.DictField(required=False)
    document = serializers.DictField(required=False)
    video = serializers.DictField(required=False)
    throttle_mps = serializers.IntegerField(required=False, min_value=1)
    recipients = BulkRecipientSerializer(many=True, max_length=MAX_RECIPIENTS)

    def validate(self, attrs):
        if not attrs.get(attrs["type"]):
            raise serializers.ValidationError({attrs["type"]: "This object is required."})
        if attrs.get("channel") is None:
            try:
                attrs["channel"] = channel_for()
            except ChannelUnknown as exc:
                raise serializers.ValidationError({"channel": exc.message}) from exc
        return attrs


class BulkSendView(APIView):
    """The messages body plus up to 10,000 recipients with their own parameters."""

    required_permissions = ["messaging.add_campaign", "messaging.launch_campaign"]
    throttle_scope = "bulk"

    @extend_schema(
        request=BulkSendSerializer,
        responses={
            202: inline_serializer(
                "BulkSendResult",
                {
                    "campaign": serializers.IntegerField(),
                    "accepted": serializers.IntegerField(),
                    "refused": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request):
        return idempotent(request, scope="messages.bulk", handler=lambda: self._create(request))

    def _create(self, request):
        serializer = BulkSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            result = bulk_send_create(
                channel=data["channel"], type=data["type"], content=data[data["type"]],
                recipients=data["recipients"], created_by=request.user,
                name=data.get("name", ""), throttle_mps=data.get("throttle_mps"),
            )  # fmt: skip
        return Response(
            {
                "campaign": result.campaign.pk,
                "accepted": result.accepted,
                "refused": result.refused,
            },
            status=status.HTTP_202_ACCEPTED,
        )
