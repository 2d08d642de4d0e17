from rest_framework import serializers

from messaging.channels.selectors import ChannelUnknown, channel_for, channels_active
from messaging.sending.models import Message, MessageStatusEvent, Status
from messaging.sending.send import SENDABLE_TYPE_CHOICES


class MessageBodySerializer(serializers.Serializer):
    """The Cloud API's message body without the recipient: `type`, the object named after
    it (`text`, `template`, `image`, `interactive`, ...) and an optional `context.message_id`
    to reply to. The messages API adds the recipient; the inbox's reply box uses it as is."""

    type = serializers.ChoiceField(choices=SENDABLE_TYPE_CHOICES)
    context = serializers.DictField(required=False)
    text = serializers.DictField(required=False)
    template = serializers.DictField(required=False)
    image = serializers.DictField(required=False)
    video = serializers.DictField(required=False)
    audio = serializers.DictField(required=False)
    document = serializers.DictField(required=False)
    sticker = serializers.DictField(required=False)
    interactive = serializers.DictField(required=False)
    location = serializers.DictField(required=False)
    reaction = serializers.DictField(required=False)
    contacts = serializers.ListField(child=serializers.DictField(), required=False)

    def validate(self, attrs):
        type_ = attrs["type"]
        if attrs.get(type_) in (None, {}, []):
            raise serializers.ValidationError({type_: f"A `{type_}` object is required."})
        context = attrs.get("context") or {}
        if context and not isinstance(context.get("message_id"), str):
            raise serializers.ValidationError({"context": "context.message_id must be a wamid."})
        return attrs


class MessageSendSerializer(MessageBodySerializer):
    """Mirrors the Cloud API send body: `to` (or `contact`), `type`, and an object named
    after the type (`text`, `template`, `image`, `interactive`, ...), plus `channel` when
    there are several numbers and an optional `context.message_id` to reply to."""

    to = serializers.CharField(required=False, help_text="E.164 phone or WhatsApp id.")
    # An id, not a related field: the view resolves every way of naming the contact through
    # crm.selectors.contact_resolve, so an unknown id answers like an unknown phone.
    contact = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Contact id instead of `to`."
    )
    recipient = serializers.CharField(required=False, help_text="BSUID instead of a phone.")
    channel = serializers.SlugRelatedField(
        slug_field="phone_number_id",
        queryset=channels_active(),
        required=False,
        help_text="phone_number_id of the sending number; optional with one channel.",
    )
    messaging_product = serializers.CharField(required=False)
    recipient_type = serializers.CharField(required=False)

    def validate(self, attrs):
        if not (attrs.get("to") or attrs.get("contact") or attrs.get("recipient")):
            raise serializers.ValidationError({"to": "Give `to`, `contact` or `recipient`."})
        attrs = super().validate(attrs)
        if attrs.get("channel") is None:
            try:
                attrs["channel"] = channel_for()
            except ChannelUnknown as exc:
                raise serializers.ValidationError({"channel": exc.message}) from exc
        return attrs


class StatusEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageStatusEvent
        fields = ["status", "timestamp", "errors"]


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    status = serializers.SerializerMethodField()
    channel = serializers.CharField(source="channel.phone_number_id", read_only=True)
    contact = serializers.IntegerField(source="contact_id", read_only=True)
    to = serializers.CharField(source="contact.phone", read_only=True, allow_null=True)
    error = serializers.SerializerMethodField()
    unconfirmed = serializers.BooleanField(
        read_only=True,
        help_text="Unknown, and no status webhook settled it within SEND_UNKNOWN_SETTLE_HOURS; "
        "it may have arrived. Send it again with POST .../resend/.",
    )
    resent_from = serializers.UUIDField(
        source="resent_from.uuid", read_only=True, allow_null=True,
        help_text="The unconfirmed message this one sends again.",
    )  # fmt: skip
    resent_as = serializers.UUIDField(
        source="resent_as.uuid", read_only=True, allow_null=True,
        help_text="The message that sent this unconfirmed one again.",
    )  # fmt: skip

    class Meta:
        model = Message
        fields = [
            "id", "direction", "type", "content", "channel", "contact", "to", "status",
            "wamid", "created_at", "accepted_at", "sent_at", "delivered_at", "read_at",
            "failed_at", "received_at", "attempts", "next_attempt_at", "error",
            "pricing_category", "context_wamid", "unconfirmed", "unconfirmed_at",
            "resent_from", "resent_as",
        ]  # fmt: skip
        read_only_fields = fields

    def get_status(self, message) -> str:
        return Status(message.status).name.lower()

    def get_error(self, message) -> dict | None:
        if message.error_code is None and not message.error_title:
            return None
        # `refusal`: the send policy's reason code when it refused the message just before
        # sending (then `code`, WhatsApp's, is null: the message was never sent).
        return {
            "code": message.error_code,
            "title": message.error_title,
            "detail": message.error_detail,
            "refusal": message.refusal or None,
        }


class MessageDetailSerializer(MessageSerializer):
    status_history = StatusEventSerializer(source="status_events", many=True, read_only=True)

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "status_history"]
        read_only_fields = fields
