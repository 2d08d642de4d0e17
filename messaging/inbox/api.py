"""Inbox API: conversations (list, start), their messages, replies, internal notes,
assignment, close/reopen, read marks, and ratings of automated answers. Writes call the
inbox's services."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import idempotent
from core.errors import DomainError
from crm.selectors import contact_resolve
from messaging.automation.models import AutomatedAnswer
from messaging.channels.selectors import (
    ChannelUnknown,
    channel_for,
    channels_active,
    templates_sendable,
)
from messaging.inbox import services as svc
from messaging.inbox.notes import NOTE_MAX_LENGTH, conversation_note_add, conversation_notes
from messaging.inbox.selectors import ASSIGNED_FILTERS, STATE_FILTERS, inbox_conversations
from messaging.inbox.starting import conversation_start
from messaging.sending.conversations import conversation_assign
from messaging.sending.models import Conversation, Message, MessageType
from messaging.sending.send import SendRefused
from messaging.sending.serializers import MessageBodySerializer, MessageSerializer

NOTES_LIMIT = 500
VIEW = ["messaging.view_conversation"]
CHANGE = ["messaging.view_conversation", "messaging.change_conversation"]
REPLY = ["messaging.view_conversation", "messaging.add_message"]


# --- Serializers -----------------------------------------------------------------------------


class ConversationContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    phone = serializers.CharField(allow_null=True)
    unread_count = serializers.IntegerField()
    pinned = serializers.BooleanField()
    blocked = serializers.BooleanField()
    consent = serializers.CharField()


class ConversationSerializer(serializers.ModelSerializer):
    contact = ConversationContactSerializer(read_only=True)
    channel = serializers.CharField(source="channel.phone_number_id", read_only=True)
    assignee = serializers.SerializerMethodField()
    closed_by = serializers.SerializerMethodField()
    team = serializers.CharField(source="team.name", read_only=True, allow_null=True, default=None)
    window_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    window_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id", "contact", "channel", "is_open", "assignee", "opened_at", "closed_at",
            "closed_by", "first_inbound_at", "first_response_at", "first_response_automated",
            "last_activity_at", "window_expires_at", "window_open", "team",
        ]  # fmt: skip
        read_only_fields = fields

    def get_assignee(self, conversation) -> str | None:
        return conversation.assignee.get_username() if conversation.assignee else None

    def get_closed_by(self, conversation) -> str | None:
        return conversation.closed_by.get_username() if conversation.closed_by else None


class AutomatedAnswerSerializer(serializers.ModelSerializer):
    rated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AutomatedAnswer
        fields = ["responder", "topic", "confidence", "rating", "rated_by", "rated_at"]
        read_only_fields = fields


class ThreadMessageSerializer(MessageSerializer):
    sent_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    automated_answer = serializers.SerializerMethodField()

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "sent_by", "is_automated", "reaction",
                  "edited_at", "deleted_at", "automated_answer"]  # fmt: skip
        read_only_fields = fields

    @extend_schema(responses=AutomatedAnswerSerializer)
    def get_automated_answer(self, message) -> dict | None:
        try:
            answer = message.automated_answer
        except AutomatedAnswer.DoesNotExist:
            return None
        return AutomatedAnswerSerializer(answer).data


class ReplySerializer(MessageBodySerializer):
    """The Cloud API's own body without the recipient: `type` and the object named after it.
    Free text needs the 24-hour window (else 422 `window_closed`: send a template)."""


class StartTemplateSerializer(serializers.Serializer):
    name = serializers.CharField()
    language = serializers.CharField(help_text='The template\'s language code, e.g. "en".')
    header = serializers.JSONField(
        required=False, help_text="Header values: a list (positional) or an object (named)."
    )
    body = serializers.JSONField(
        required=False, help_text="Body values: a list (positional) or an object (named)."
    )
    buttons = serializers.DictField(
        child=serializers.CharField(), required=False,
        help_text='URL button values by button index, e.g. {"0": "40321"}.',
    )  # fmt: skip
    header_media_link = serializers.URLField(required=False)


class ConversationStartSerializer(serializers.Serializer):
    """Start a conversation with any contact, one who never wrote included: `text` while the
    24-hour window with that number is open, else a `template` with its values."""

    contact = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Contact id."
    )
    phone = serializers.CharField(required=False, help_text="The contact's phone instead.")
    channel = serializers.SlugRelatedField(
        slug_field="phone_number_id", queryset=channels_active(), required=False,
        help_text="phone_number_id of the number; optional with one channel.",
    )  # fmt: skip
    text = serializers.CharField(required=False, max_length=4096)
    template = StartTemplateSerializer(required=False)

    def validate(self, attrs):
        if not (attrs.get("contact") or attrs.get("phone")):
            raise serializers.ValidationError({"contact": "Give `contact` or `phone`."})
        if bool(attrs.get("text")) == bool(attrs.get("template")):
            raise serializers.ValidationError({"text": "Give either `text` or `template`."})
        if attrs.get("channel") is None:
            try:
                attrs["channel"] = channel_for()
            except ChannelUnknown as exc:
                raise serializers.ValidationError({"channel": exc.message}) from exc
        return attrs


class ConversationStartedSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    message = ThreadMessageSerializer()


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    text = serializers.CharField(source="note", max_length=NOTE_MAX_LENGTH)
    author = serializers.CharField(
        source="actor.username", read_only=True, allow_null=True, default=None
    )
    at = serializers.DateTimeField(read_only=True)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.CharField(
        allow_null=True, help_text='A user id, "me", or null to unassign.'
    )


class ReadSerializer(serializers.Serializer):
    typing = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also show the contact a typing indicator (until your reply, at most 25 "
        "seconds); needs the permission to reply.",
    )


class NoBodySerializer(serializers.Serializer):
    """`close` and `reopen` take no body."""


class RatingSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)


# --- Views -----------------------------------------------------------------------------------


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(
        Conversation.objects.select_related("contact", "channel", "assignee", "closed_by", "team"),
        pk=pk,
    )


FILTER_PARAMETERS = [
    OpenApiParameter(
        "assigned", str, enum=list(ASSIGNED_FILTERS), description="mine or unassigned"
    ),
    OpenApiParameter("state", str, enum=list(STATE_FILTERS), description="open or closed"),
    OpenApiParameter("window", str, enum=["open"], description="only with the 24-hour window open"),
    OpenApiParameter("search", str, description="contact name, phone or message text"),
]


class ConversationListView(generics.ListAPIView):
    """Conversations, pinned contacts first, then by last activity (the inbox's order);
    POST starts one."""

    serializer_class = ConversationSerializer
    required_permissions = {"GET": VIEW, "HEAD": VIEW, "POST": REPLY}
    filter_backends: list = []
    throttle_scope = "send"

    def get_throttles(self):
        if self.request.method != "POST":  # sends have their own budget
            self.throttle_scope = None
        return super().get_throttles()

    @extend_schema(
        request=ConversationStartSerializer,
        responses={201: ConversationStartedSerializer},
        tags=["inbox"],
        description="Start a conversation with any contact, including one who never wrote: "
        "free `text` needs the contact's 24-hour window with that number to be open (else "
        "422 `window_closed`), otherwise send an approved `template` with its values. Every "
        "send rule applies; nothing is written when one refuses. The conversation is "
        "assigned to the caller when nobody has it. `Idempotency-Key` is honoured.",
    )
    def post(self, request, *args, **kwargs):
        return idempotent(
            request, scope="conversations.start", handler=lambda: self._start(request)
        )

    def _start(self, request):
        serializer = ConversationStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        contact = contact_resolve(contact_id=data.get("contact"), phone=data.get("phone"))
        channel = data["channel"]
        template, values = None, None
        if data.get("template"):
            spec = data["template"]
            template = (
                templates_sendable(channel=channel)
                .filter(name=spec["name"], language=spec["language"])
                .first()
            )
            if template is None:
                raise SendRefused(
                    f"No approved template {spec['name']!r} in {spec['language']!r} on this "
                    "number.",
                    code="template_unknown",
                )
            values = {k: spec[k] for k in ("header", "body", "buttons", "header_media_link")
                      if spec.get(k)}  # fmt: skip
        conversation, message = conversation_start(
            contact=contact, channel=channel, user=request.user, text=data.get("text") or "",
            template=template, values=values,
        )  # fmt: skip
        body = {
            "conversation": ConversationSerializer(_conversation(conversation.pk)).data,
            "message": ThreadMessageSerializer(message).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    def get_queryset(self):
        params = self.request.query_params
        return inbox_conversations(
            user=self.request.user,
            assigned=params.get("assigned", ""),
            state=params.get("state", ""),
            window_open=params.get("window", "") in ("open", "1", "true"),
            search=params.get("search", "") or params.get("q", ""),
        )

    @extend_schema(parameters=FILTER_PARAMETERS, tags=["inbox"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConversationDetailView(APIView):
    required_permissions = {"GET": VIEW, "HEAD": VIEW}

    @extend_schema(responses=ConversationSerializer, tags=["inbox"])
    def get(self, request, pk):
        return Response(ConversationSerializer(_conversation(pk)).data)


class ConversationMessagesView(generics.ListAPIView):
    """The messages with the contact on the conversation's number, newest first (reactions
    are shown as `reaction` on the message they react to)."""

    serializer_class = ThreadMessageSerializer
    required_permissions = {"GET": VIEW, "HEAD": VIEW}
    filter_backends: list = []

    def get_queryset(self):
        conversation = _conversation(self.kwargs["pk"])
        return (
            Message.objects.filter(
                contact_id=conversation.contact_id, channel_id=conversation.channel_id
            )
            .exclude(type=MessageType.REACTION)
            .select_related("channel", "contact", "sent_by", "automated_answer__rated_by")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(tags=["inbox"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConversationReplyView(APIView):
    required_permissions = {"POST": REPLY}
    throttle_scope = "send"

    @extend_schema(
        request=ReplySerializer, responses={202: ThreadMessageSerializer}, tags=["inbox"]
    )
    def post(self, request, pk):
        conversation = _conversation(pk)
        return idempotent(
            request,
            scope=f"conversations.{conversation.pk}.reply",
            handler=lambda: self._reply(request, conversation),
        )

    def _reply(self, request, conversation):
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        type_ = data["type"]
        content = {"contacts": data[type_]} if type_ == "contacts" else data[type_]
        message = svc.conversation_reply(
            conversation=conversation,
            user=request.user,
            type=type_,
            content=content,
            context_wamid=(data.get("context") or {}).get("message_id", ""),
        )
        return Response(ThreadMessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class ConversationActionView(APIView):
    """`assign` (body `{"assignee": <user id> | "me" | null}`), `close`, `reopen`, `read`
    (body `{"typing": true}` optional)."""

    action_name = ""
    required_permissions = {"POST": CHANGE}

    def get_serializer_class(self):
        return {"assign": AssignSerializer, "read": ReadSerializer}.get(
            self.action_name, NoBodySerializer
        )

    @extend_schema(responses=ConversationSerializer, tags=["inbox"])
    def post(self, request, pk):
        conversation = _conversation(pk)
        user = request.user
        if self.action_name == "assign":
            serializer = AssignSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            conversation_assign(
                conversation=conversation, assignee=self._assignee(request, serializer), actor=user
            )
        elif self.action_name == "close":
            svc.conversation_close(conversation=conversation, actor=user)
        elif self.action_name == "reopen":
            svc.conversation_reopen(conversation=conversation, actor=user)
        elif self.action_name == "read":
            serializer = ReadSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            typing = serializer.validated_data["typing"]
            if typing and not user.has_perms(REPLY):
                raise PermissionDenied("Showing a typing indicator needs the permission to reply.")
            svc.conversation_mark_read(conversation=conversation, typing=typing)
        return Response(ConversationSerializer(_conversation(pk)).data)

    @staticmethod
    def _assignee(request, serializer):
        value = serializer.validated_data["assignee"]
        if value is None or value == "":
            return None
        if value == "me":
            return request.user
        user = get_user_model().objects.filter(pk=int(value) if str(value).isdigit() else 0).first()
        if user is None:
            raise DomainError(f"No user {value}.", code="invalid_assignee")
        return user


class MessageRatingView(APIView):
    """Rate an automated answer from 1 to 5 (a later rating replaces the earlier one)."""

    required_permissions = {"POST": ["messaging.rate_automatedanswer"]}

    @extend_schema(request=RatingSerializer, responses=AutomatedAnswerSerializer, tags=["inbox"])
    def post(self, request, id):
        message = get_object_or_404(Message.objects.select_related("automated_answer"), uuid=id)
        try:
            answer = message.automated_answer
        except AutomatedAnswer.DoesNotExist:
            raise DomainError(
                "Only automated answers can be rated.", code="not_automated"
            ) from None
        serializer = RatingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        svc.answer_rate(
            answer=answer, rating=serializer.validated_data["rating"], user=request.user
        )
        return Response(AutomatedAnswerSerializer(answer).data)


class ConversationNotesView(APIView):
    """Internal notes on a conversation: staff only, never sent to the contact. GET lists
    them newest first; POST `{"text": "..."}` adds one."""

    required_permissions = {"GET": VIEW, "HEAD": VIEW, "POST": CHANGE}

    @extend_schema(responses=NoteSerializer(many=True), tags=["inbox"])
    def get(self, request, pk):
        notes = conversation_notes(_conversation(pk))[:NOTES_LIMIT]
        return Response(NoteSerializer(notes, many=True).data)

    @extend_schema(request=NoteSerializer, responses={201: NoteSerializer}, tags=["inbox"])
    def post(self, request, pk):
        conversation = _conversation(pk)
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = conversation_note_add(
            conversation=conversation, author=request.user,
            text=serializer.validated_data["note"],
        )  # fmt: skip
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)
