"""crm API serializers: input serializers validate, output serializers render; services write."""

from __future__ import annotations

from rest_framework import serializers

from crm.attribute_rules import attribute_definition_check
from crm.models import (
    Advisor,
    AdvisorTier,
    AttributeDefinition,
    AttributeType,
    Consent,
    ConsentEvent,
    Contact,
    ImportJob,
    Segment,
    Tag,
)
from crm.selectors import segment_count

# --- Output -----------------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()
    is_advisor = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id", "phone", "wa_id", "bsuid", "name", "profile_name", "language", "tags",
            "attributes", "consent", "consent_updated_at", "blocked", "pinned",
            "undeliverable", "undeliverable_reason", "unread_count", "last_inbound_at",
            "last_outbound_at", "is_advisor", "created_at", "updated_at", "erased_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_tags(self, contact) -> list[str]:
        return [t.name for t in contact.tags.all()]

    def get_is_advisor(self, contact) -> bool:
        return hasattr(contact, "advisor")


class ContactErasureSerializer(serializers.Serializer):
    """The erased record, and how many of each kind of thing the erasure removed."""

    contact = ContactSerializer()
    removed = serializers.DictField(child=serializers.IntegerField())


class ConsentEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = ConsentEvent
        fields = ["id", "previous", "consent", "source", "actor", "note", "created_at"]
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):
    contact_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Tag
        fields = ["id", "name", "color", "contact_count", "created_at"]
        read_only_fields = fields


class AttributeDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AttributeDefinition
        fields = ["id", "key", "label", "type", "choices", "help_text", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):

        instance = self.instance
        key = attrs.get("key", getattr(instance, "key", ""))
        kind = attrs.get("type", getattr(instance, "type", AttributeType.TEXT))
        choices = attrs.get("choices", getattr(instance, "choices", []))
        problems = attribute_definition_check(key=key, type=kind, choices=choices)
        if problems:
            raise serializers.ValidationError({"non_field_errors": problems})
        return attrs


class SegmentSerializer(serializers.ModelSerializer):
    count = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "filter", "count", "created_at", "updated_at"]
        read_only_fields = fields

    def get_count(self, segment) -> int:
        counts = self.context.get("counts")
        if counts is not None and segment.pk in counts:
            return counts[segment.pk]

        return segment_count(segment)


class AdvisorSerializer(serializers.ModelSerializer):
    contact = ContactSerializer(read_only=True)
    disabled_by = serializers.CharField(
        source="disabled_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Advisor
        fields = [
            "id", "contact", "firm", "region", "tier", "is_active", "disabled_reason",
            "disabled_at", "disabled_by", "content_preferences", "onboarded_on", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class ImportJobSerializer(serializers.ModelSerializer):
    progress_percent = serializers.IntegerField(read_only=True)
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id", "original_name", "format", "size_bytes", "dry_run", "as_advisors", "status",
            "message", "columns", "ignored_columns", "total_rows", "processed_rows",
            "created_count", "updated_count", "skipped_count", "error_count", "progress_percent",
            "checkpoint_byte", "checkpoint_line", "created_at", "started_at", "finished_at",
            "errors_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_errors_url(self, job) -> str:
        from django.urls import reverse

        return reverse("api:import-errors", args=[job.pk])


# --- Input ------------------------------------------------------------------------------------


class ContactCreateSerializer(serializers.Serializer):
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    bsuid = serializers.CharField(required=False, allow_blank=True, max_length=128)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    language = serializers.CharField(required=False, allow_blank=True, max_length=16)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    attributes = serializers.DictField(required=False)
    consent = serializers.ChoiceField(choices=Consent.choices, required=False)
    consent_note = serializers.CharField(required=False, allow_blank=True, max_length=500)

    def validate(self, attrs):
        if not (attrs.get("phone") or attrs.get("bsuid")):
            raise serializers.ValidationError({"phone": "Give a phone number or a bsuid."})
        return attrs


class ContactUpdateSerializer(serializers.Serializer):
    """Details only: consent has its own endpoint (with a reason), blocking is a flag here."""

    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    bsuid = serializers.CharField(required=False, allow_blank=True, max_length=128)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    language = serializers.CharField(required=False, allow_blank=True, max_length=16)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    attributes = serializers.DictField(required=False)
    pinned = serializers.BooleanField(required=False)
    blocked = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if "consent" in self.initial_data:
            raise serializers.ValidationError(
                {"consent": "Change consent with POST /contacts/{id}/consent/ and a reason."}
            )
        return attrs


class ConsentChangeSerializer(serializers.Serializer):
    consent = serializers.ChoiceField(choices=Consent.choices)
    reason = serializers.CharField(max_length=500)


class TagInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False)


class SegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    filter = serializers.JSONField(required=False)


class AdvisorCreateSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    firm = serializers.CharField(required=False, allow_blank=True, max_length=200)
    region = serializers.CharField(required=False, allow_blank=True, max_length=100)
    tier = serializers.ChoiceField(choices=AdvisorTier.choices, required=False)
    content_preferences = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False
    )
    onboarded_on = serializers.DateField(required=False, allow_null=True)


class AdvisorUpdateSerializer(serializers.Serializer):
    firm = serializers.CharField(required=False, allow_blank=True, max_length=200)
    region = serializers.CharField(required=False, allow_blank=True, max_length=100)
    tier = serializers.ChoiceField(choices=AdvisorTier.choices, required=False)
    content_preferences = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False
    )
    onboarded_on = serializers.DateField(required=False, allow_null=True)


class AdvisorDisableSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)
    advisors = serializers.BooleanField(required=False, default=False)
