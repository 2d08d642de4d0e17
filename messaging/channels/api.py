"""Channels API: each number's health and messaging-limit budget (read-only), and the
templates: list, create, change, submit to Meta, delete (README "Template builder")."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from core.errors import DomainError
from messaging.channels.authoring import (
    template_create,
    template_delete,
    template_submit,
    template_update,
)
from messaging.channels.models import (
    HealthSource,
    MessageTemplate,
    MessagingTier,
    NumberStatus,
    QualityRating,
    TemplateCategory,
    TemplateEvent,
    TemplateEventSource,
    TemplateStatus,
)
from messaging.channels.selectors import (
    channel_for,
    channel_health,
    channels_active,
    channels_with_health,
    template_events,
    template_list,
)


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


# --- Templates (README "Template builder") ------------------------------------------------------


class TemplateInputSerializer(serializers.Serializer):
    """A template definition in the shape of Meta's `POST /{waba_id}/message_templates`
    (what integrators already know). Meta's rules are checked by the services, which answer
    400 `invalid_template` with the problems by field (`body.text`, `buttons.1.url`, ...)."""

    channel = serializers.SlugRelatedField(
        slug_field="phone_number_id",
        queryset=channels_active(),
        required=False,
        help_text="The number's phone_number_id; needed only when there are several.",
    )
    name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=16)
    category = serializers.ChoiceField(choices=TemplateCategory.choices)
    parameter_format = serializers.ChoiceField(
        choices=["POSITIONAL", "NAMED"], required=False,
        help_text="Inferred from the variables when left out.",
    )  # fmt: skip
    components = serializers.ListField(
        child=serializers.DictField(),
        max_length=4,
        help_text="HEADER, BODY, FOOTER, BUTTONS objects with their examples, as Meta takes them. "
        "An IMAGE, VIDEO or DOCUMENT header's example is either Meta's `{\"header_handle\": "
        '["4::..."]}` or a media library file, `{"header_asset": [<id from /api/v1/media/>]}` '
        "(of the header's kind), uploaded to Meta as a fresh handle when the template is "
        "submitted or edited there.",
    )


class TemplateEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)

    class Meta:
        model = TemplateEvent
        fields = ["kind", "source", "status_from", "status_to", "reason", "detail", "actor",
                  "created_at"]  # fmt: skip
        read_only_fields = fields


class TemplateSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.phone_number_id")

    class Meta:
        model = MessageTemplate
        fields = [
            "id", "channel", "external_id", "name", "language", "category", "status",
            "rejected_reason", "quality_score", "parameter_format", "parameters", "components",
            "opt_out_buttons", "authored_in_parley", "submitted_at", "status_changed_at",
            "synced_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class TemplateDetailSerializer(TemplateSerializer):
    events = serializers.SerializerMethodField()

    class Meta(TemplateSerializer.Meta):
        fields = [*TemplateSerializer.Meta.fields, "events"]
        read_only_fields = fields

    @extend_schema_field(TemplateEventSerializer(many=True))
    def get_events(self, template) -> list:
        return TemplateEventSerializer(template_events(template), many=True).data


class TemplateFilter(filters.FilterSet):
    channel = filters.CharFilter(field_name="channel__phone_number_id")
    status = filters.ChoiceFilter(choices=TemplateStatus.choices)
    category = filters.ChoiceFilter(choices=TemplateCategory.choices)
    language = filters.CharFilter()

    class Meta:
        model = MessageTemplate
        fields = ["channel", "status", "category", "language", "authored_in_parley"]


@extend_schema_view(
    get=extend_schema(summary="Templates, with their status at Meta"),
    post=extend_schema(
        summary="Create a draft template (checked against Meta's rules; not submitted)",
        request=TemplateInputSerializer,
        responses={201: TemplateDetailSerializer},
    ),
)
class TemplateListCreateView(generics.ListCreateAPIView):
    """Every template (synced or made here); filters `status`, `category`, `language`,
    `channel`. POST makes a DRAFT (permission `messaging.add_messagetemplate`); submit it
    with `POST /api/v1/templates/{id}/submit/`."""

    filterset_class = TemplateFilter
    search_fields = ["name"]
    ordering_fields = ["name", "language", "updated_at", "status"]

    def get_queryset(self):
        return template_list()

    def get_serializer_class(self):
        return TemplateInputSerializer if self.request.method == "POST" else TemplateSerializer

    def post(self, request, *args, **kwargs):
        data = TemplateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        args = dict(data.validated_data)
        channel = args.pop("channel", None) or channel_for()
        template = template_create(
            channel=channel, created_by=request.user, source=TemplateEventSource.API, **args
        )
        return Response(TemplateDetailSerializer(template).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="One template with its history"),
    patch=extend_schema(
        summary="Change a draft, or edit a submitted template (re-submitted for review)",
        request=TemplateInputSerializer(partial=True),
        responses=TemplateDetailSerializer,
    ),
    delete=extend_schema(
        summary="Delete a draft, or delete the template at Meta (kept here as DELETED)",
        responses={204: None, 200: TemplateDetailSerializer},
    ),
)
class TemplateDetailView(generics.RetrieveUpdateDestroyAPIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]
    serializer_class = TemplateDetailSerializer

    def get_queryset(self):
        return template_list()

    def patch(self, request, *args, **kwargs):
        template = self.get_object()
        data = TemplateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "channel" in changes and changes.pop("channel") != template.channel:
            raise DomainError("A template stays on its number.", code="invalid")
        template = template_update(
            template=template, changes=changes, actor=request.user, source=TemplateEventSource.API
        )
        return Response(TemplateDetailSerializer(template).data)

    def delete(self, request, *args, **kwargs):
        template = template_delete(
            template=self.get_object(), actor=request.user, source=TemplateEventSource.API
        )
        if template is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(TemplateDetailSerializer(template).data)


class TemplateSubmitView(generics.GenericAPIView):
    """Submit a DRAFT to Meta for review (permission `messaging.submit_messagetemplate`).
    It becomes PENDING; Meta's verdict arrives by webhook. A refusal is 422
    `provider_refused` with Meta's words; an unavailable provider 503."""

    required_permissions = ["messaging.submit_messagetemplate", "messaging.view_messagetemplate"]
    serializer_class = TemplateDetailSerializer

    def get_queryset(self):
        return template_list()

    @extend_schema(request=None, responses=TemplateDetailSerializer, summary="Submit to Meta")
    def post(self, request, pk):
        template = template_submit(
            template=self.get_object(), actor=request.user, source=TemplateEventSource.API
        )
        return Response(TemplateDetailSerializer(template).data)
