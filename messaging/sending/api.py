import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from core.api.filters import MomentFilter
from core.api.idempotency import idempotent
from core.errors import DomainError
from crm.selectors import contact_resolve
from messaging.sending.models import UNCONFIRMED, Message, Status
from messaging.sending.selectors import message_list
from messaging.sending.send import message_send
from messaging.sending.serializers import (
    MessageDetailSerializer,
    MessageSendSerializer,
    MessageSerializer,
)
from messaging.sending.unconfirmed import message_resend


class MessageFilter(django_filters.FilterSet):
    status = django_filters.CharFilter(method="filter_status")
    channel = django_filters.CharFilter(field_name="channel__phone_number_id")
    # Bounded so that an id no database column can hold is a 400, not a crash.
    contact = django_filters.NumberFilter(field_name="contact_id", min_value=1, max_value=2**63 - 1)
    phone = django_filters.CharFilter(field_name="contact__phone")
    direction = django_filters.CharFilter()
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")
    unconfirmed = django_filters.BooleanFilter(method="filter_unconfirmed")

    class Meta:
        model = Message
        fields = ["status", "channel", "contact", "phone", "direction", "unconfirmed"]

    def filter_unconfirmed(self, queryset, name, value):
        return queryset.filter(UNCONFIRMED) if value else queryset.exclude(UNCONFIRMED)

    def filter_status(self, queryset, name, value):
        try:
            return queryset.filter(status=Status[value.upper()])
        except KeyError:
            raise DomainError(
                f"Unknown status {value!r}.", code="invalid",
                details={"status": [s.name.lower() for s in Status]},
            ) from None  # fmt: skip


class MessageListCreateView(generics.ListCreateAPIView):
    """Send a message (the Cloud API body) or list messages with filters."""

    filterset_class = MessageFilter
    search_fields = ["contact__phone", "contact__name", "wamid"]
    ordering_fields = ["created_at", "status"]
    throttle_scope = "send"

    def get_queryset(self):
        return message_list()

    def get_serializer_class(self):
        return MessageSendSerializer if self.request.method == "POST" else MessageSerializer

    def get_throttles(self):
        # Sends have their own budget; reads use the general one.
        if self.request.method != "POST":
            self.throttle_scope = None
        return super().get_throttles()

    @extend_schema(request=MessageSendSerializer, responses={202: MessageSerializer})
    def post(self, request, *args, **kwargs):
        return idempotent(request, scope="messages.send", handler=lambda: self._send(request))

    def _send(self, request):
        serializer = MessageSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        type_ = data["type"]
        content = data[type_]
        if type_ == "contacts":
            content = {"contacts": content}
        # A body naming the contact by BSUID alone may be the first send to a user who hides
        # their number: that creates the contact. A phone or an id must name one already.
        contact = contact_resolve(
            contact_id=data.get("contact"), phone=data.get("to"), bsuid=data.get("recipient"),
            create=not (data.get("to") or data.get("contact")),
        )  # fmt: skip
        message = message_send(
            channel=data["channel"],
            contact=contact,
            type=type_,
            content=content,
            context_wamid=(data.get("context") or {}).get("message_id", ""),
            sent_by=request.user,
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class MessageDetailView(generics.RetrieveAPIView):
    serializer_class = MessageDetailSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return message_list().prefetch_related("status_events")


class MessageResendView(generics.GenericAPIView):
    """Send an unconfirmed message again, as a new message linked to it (`resent_from`).

    202 with the new message; 200 with the same one when it was already sent again (a
    retried request sends nothing more); 409 `not_resendable` when the message is not
    unconfirmed (a late webhook settled it, say); 422 when a send rule refuses it now.
    """

    required_permissions = ["messaging.resend_message", "messaging.view_message"]
    serializer_class = MessageSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    throttle_scope = "send"

    def get_queryset(self):
        return message_list()

    @extend_schema(request=None, responses={202: MessageSerializer, 200: MessageSerializer})
    def post(self, request, id):
        new, created = message_resend(message=self.get_object(), actor=request.user)
        return Response(
            MessageSerializer(message_list().get(pk=new.pk)).data,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        )
