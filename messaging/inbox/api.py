"""Inbox API: conversations, their messages, replies, assignment, close/reopen, read marks,
and ratings of automated answers. Writes call `messaging.inbox.services`."""

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
from messaging.automation.models import AutomatedAnswer
from messaging.inbox import services as svc
from messaging.inbox.selectors import ASSIGNED_FILTERS, STATE_FILTERS, inbox_conversations
from messaging.sending.conversations import conversation_assign
from messaging.sending.models import Conversation, Message, MessageType
from messaging.sending.serializers import MessageBodySerializer, MessageSerializer

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
    window_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    window_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id", "contact", "channel", "is_open", "assignee", "opened_at", "closed_at",
            "closed_by", "first_inbound_at", "first_response_at", "first_response_automated",
            "last_activity_at", "window_expires_at", "window_open",
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
        Conversation.objects.select_related("contact", "channel", "assignee", "closed_by"), pk=pk
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
    """Conversations, pinned contacts first, then by last activity (the inbox's order)."""

    serializer_class = ConversationSerializer
    required_permissions = {"GET": VIEW, "HEAD": VIEW}
    filter_backends: list = []

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
