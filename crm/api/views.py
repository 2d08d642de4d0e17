"""crm REST API: contacts, consent, tags, attribute definitions, segments, advisors, imports.

Permissions are the caller's model permissions (`core.api.permissions.ModelPermissions`);
actions that are not plain CRUD name theirs in `required_permissions`.
"""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from core.audit import audit_record
from core.models import AuditAction
from crm import selectors
from crm.api.serializers import (
    AdvisorCreateSerializer,
    AdvisorDisableSerializer,
    AdvisorSerializer,
    AdvisorUpdateSerializer,
    AttributeDefinitionSerializer,
    ConsentChangeSerializer,
    ConsentEventSerializer,
    ContactCreateSerializer,
    ContactErasureSerializer,
    ContactSerializer,
    ContactUpdateSerializer,
    ImportCreateSerializer,
    ImportJobSerializer,
    SegmentInputSerializer,
    SegmentSerializer,
    TagInputSerializer,
    TagSerializer,
)
from crm.importing.jobs import import_job_create, import_job_resume
from crm.models import (
    Advisor,
    AdvisorTier,
    AttributeDefinition,
    Consent,
    ConsentSource,
    Contact,
    ImportJob,
    Segment,
    Tag,
)
from crm.services import (
    advisor_create,
    advisor_disable,
    advisor_enable,
    advisor_update,
    consent_set,
    contact_block,
    contact_create,
    contact_delete,
    contact_erase,
    contact_update,
    segment_create,
    segment_update,
    tag_names_clean,
    tags_get_or_create,
)
from crm.views.imports import import_errors_csv_response, upload_too_large


class ActionPermissionsMixin:
    """`action_permissions = {"consent": ["crm.change_consent"]}` for non-CRUD actions."""

    action_permissions: dict[str, list[str]] = {}

    @property
    def required_permissions(self):
        return self.action_permissions.get(getattr(self, "action", None) or "")


class ContactFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(field_name="tags__name", method="filter_tag")
    consent = django_filters.ChoiceFilter(choices=Consent.choices)
    blocked = django_filters.BooleanFilter()
    advisor = django_filters.BooleanFilter(method="filter_advisor")
    phone = django_filters.CharFilter()

    class Meta:
        model = Contact
        fields = ["tag", "consent", "blocked", "advisor", "phone"]

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__name=value.strip().lower())

    def filter_advisor(self, queryset, name, value):
        return queryset.filter(advisor__isnull=not value)


class ContactViewSet(ActionPermissionsMixin, viewsets.ModelViewSet):
    """Contacts. Consent changes only through `POST /contacts/{id}/consent/` (with a reason)."""

    filterset_class = ContactFilter
    search_fields = ["name", "profile_name", "phone"]
    ordering_fields = ["created_at", "name", "last_inbound_at"]
    serializer_class = ContactSerializer
    action_permissions = {
        "consent": ["crm.change_consent"],
        "consent_history": ["crm.view_consentevent"],
        "erase": ["crm.view_contact", "crm.erase_contact"],
        "export": ["crm.view_contact", "crm.export_contact"],
    }
    queryset = Contact.objects.none()  # for the schema and ModelPermissions

    def get_queryset(self):
        return (
            Contact.objects.select_related("advisor")
            .prefetch_related("tags")
            .order_by("-created_at", "-id")
        )

    @extend_schema(request=ContactCreateSerializer, responses={201: ContactSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(ContactCreateSerializer, request.data)
        contact = contact_create(
            phone=data.get("phone") or None, bsuid=data.get("bsuid") or None,
            name=data.get("name", ""), language=data.get("language", ""),
            tags=_tags(data.get("tags", [])), attributes=data.get("attributes"),
            consent=data.get("consent"), consent_source=ConsentSource.API,
            consent_note=data.get("consent_note", ""), actor=request.user,
        )  # fmt: skip
        return Response(self._out(contact), status=status.HTTP_201_CREATED)

    @extend_schema(request=ContactUpdateSerializer, responses=ContactSerializer)
    def update(self, request, *args, **kwargs):
        contact = self.get_object()
        data = _valid(ContactUpdateSerializer, request.data, partial=kwargs.get("partial"))
        blocked = data.pop("blocked", None)
        tags = data.pop("tags", None)
        contact_update(
            contact=contact, actor=request.user,
            tags=_tags(tags) if tags is not None else None, **data,
        )  # fmt: skip
        if blocked is not None:
            contact_block(contact=contact, blocked=blocked, actor=request.user)
        return Response(self._out(contact))

    @extend_schema(request=ConsentChangeSerializer, responses=ContactSerializer)
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        """Change marketing consent; the change and its reason are recorded (source `api`)."""
        contact = self.get_object()
        data = _valid(ConsentChangeSerializer, request.data)
        consent_set(
            contact=contact, consent=data["consent"], source=ConsentSource.API,
            actor=request.user, note=data["reason"],
        )  # fmt: skip
        return Response(self._out(contact))

    @extend_schema(responses=ConsentEventSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="consent-history", pagination_class=None)
    def consent_history(self, request, pk=None):
        contact = self.get_object()
        events = selectors.contact_consent_history(contact, limit=200)
        return Response(ConsentEventSerializer(events, many=True).data)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            409: OpenApiResponse(
                description="The contact has consent history (code `consent_history`): "
                "erase it instead with `POST /contacts/{id}/erase/`."
            ),
        }
    )
    def destroy(self, request, *args, **kwargs):
        """Delete a contact without consent history. One with consent history is refused
        (409): its opt-outs are proof to keep, so erase it instead."""
        contact_delete(contact=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={
            200: ContactErasureSerializer,
            409: OpenApiResponse(description="Already erased (code `already_erased`)."),
        },
    )
    @action(detail=True, methods=["post"])
    def erase(self, request, pk=None):
        """Erase the person's data (right to erasure): name, numbers, attributes, tags, message
        bodies and media, conversation notes, link clicks, import traces. The contact stays as
        a pseudonymous record with its consent history and keyed hashes of its identifiers, so
        a number that opted out stays opted out if it is imported or writes again. Irreversible;
        needs `crm.erase_contact`."""
        contact = self.get_object()
        removed = contact_erase(contact=contact, actor=request.user)
        record = self.get_queryset().get(pk=contact.pk)
        return Response(ContactErasureSerializer({"contact": record, "removed": removed}).data)

    @extend_schema(
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
        description="Everything Parley holds about the person (right of access), as one JSON "
        "document: the contact, tags, attributes, consent history, former numbers, advisor "
        "profile, imports, messages with their statuses, conversations and notes, "
        "notifications, content deliveries, link clicks, conversions and button taps. "
        "Needs `crm.export_contact`.",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def export(self, request, pk=None):
        """The right of access: everything held about the contact, as JSON."""
        contact = self.get_object()
        data = selectors.contact_data_export(contact)
        audit_record(AuditAction.EXPORT, obj=contact, details={"what": "contact data"})
        response = Response(data)
        response["Content-Disposition"] = f'attachment; filename="contact-{pk}.json"'
        return response

    def _out(self, contact: Contact) -> dict:
        return ContactSerializer(self.get_queryset().get(pk=contact.pk)).data


def _valid(serializer_class, data, *, partial: bool | None = False) -> dict:
    serializer = serializer_class(data=data, partial=bool(partial))
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _tags(names) -> list[str]:
    try:
        return tag_names_clean(names)
    except ValueError as exc:
        raise ValidationError({"tags": [str(exc)]}) from None


class TagViewSet(viewsets.ModelViewSet):
    serializer_class = TagSerializer
    search_fields = ["name"]
    queryset = Tag.objects.none()

    def get_queryset(self):
        return Tag.objects.annotate(contact_count=Count("contacts")).order_by("name")

    @extend_schema(request=TagInputSerializer, responses={201: TagSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(TagInputSerializer, request.data)
        (tag,) = tags_get_or_create(_tags([data["name"]]))
        if data.get("color") and tag.color != data["color"]:
            tag.color = data["color"]
            tag.save(update_fields=["color"])
        return Response(
            TagSerializer(self.get_queryset().get(pk=tag.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=TagInputSerializer, responses=TagSerializer)
    def update(self, request, *args, **kwargs):
        tag = self.get_object()
        data = _valid(TagInputSerializer, request.data, partial=kwargs.get("partial"))
        if "name" in data:
            tag.name = _tags([data["name"]])[0]
        if "color" in data:
            tag.color = data["color"]
        tag.save()
        return Response(TagSerializer(self.get_queryset().get(pk=tag.pk)).data)


class AttributeDefinitionViewSet(viewsets.ModelViewSet):
    """The custom attributes contacts may carry (`Contact.attributes` keys and types)."""

    serializer_class = AttributeDefinitionSerializer
    queryset = AttributeDefinition.objects.order_by("key")


class SegmentViewSet(ActionPermissionsMixin, viewsets.ModelViewSet):
    serializer_class = SegmentSerializer
    search_fields = ["name", "description"]
    action_permissions = {"contacts": ["crm.view_segment", "crm.view_contact"]}
    queryset = Segment.objects.none()

    def get_queryset(self):
        return Segment.objects.order_by("name")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        counts = selectors.segment_counts(page)
        data = SegmentSerializer(page, many=True, context={"counts": counts}).data
        return self.get_paginated_response(data)

    @extend_schema(request=SegmentInputSerializer, responses={201: SegmentSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(SegmentInputSerializer, request.data)
        segment = segment_create(
            name=data["name"], description=data.get("description", ""),
            filter=data.get("filter") or {}, actor=request.user,
        )  # fmt: skip
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SegmentInputSerializer, responses=SegmentSerializer)
    def update(self, request, *args, **kwargs):
        segment = self.get_object()
        data = _valid(SegmentInputSerializer, request.data, partial=kwargs.get("partial"))
        segment_update(
            segment=segment, name=data.get("name"), description=data.get("description"),
            filter=data.get("filter"), actor=request.user,
        )  # fmt: skip
        return Response(SegmentSerializer(segment).data)

    @extend_schema(responses=ContactSerializer(many=True))
    @action(detail=True, methods=["get"])
    def contacts(self, request, pk=None):
        """The contacts the segment matches now (paginated, by id)."""
        segment = self.get_object()
        queryset = (
            selectors.segment_contacts(segment).select_related("advisor").prefetch_related("tags")
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ContactSerializer(page, many=True).data)


class AdvisorFilter(django_filters.FilterSet):
    region = django_filters.CharFilter()
    tier = django_filters.ChoiceFilter(choices=AdvisorTier.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Advisor
        fields = ["region", "tier", "is_active"]


class AdvisorViewSet(ActionPermissionsMixin, viewsets.ModelViewSet):
    serializer_class = AdvisorSerializer
    filterset_class = AdvisorFilter
    search_fields = ["contact__name", "contact__phone", "firm"]
    ordering_fields = ["created_at", "firm", "region", "tier"]
    action_permissions = {
        "disable": ["crm.change_advisor"],
        "enable": ["crm.change_advisor"],
    }
    queryset = Advisor.objects.none()

    def get_queryset(self):
        return (
            Advisor.objects.select_related("contact", "contact__advisor", "disabled_by")
            .prefetch_related("contact__tags")
            .order_by("-created_at", "-id")
        )

    def _out(self, advisor) -> dict:
        return AdvisorSerializer(self.get_queryset().get(pk=advisor.pk)).data

    @extend_schema(request=AdvisorCreateSerializer, responses={201: AdvisorSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(AdvisorCreateSerializer, request.data)
        advisor = advisor_create(
            phone=data.pop("phone"), name=data.pop("name", ""), actor=request.user, **data
        )
        return Response(self._out(advisor), status=status.HTTP_201_CREATED)

    @extend_schema(request=AdvisorUpdateSerializer, responses=AdvisorSerializer)
    def update(self, request, *args, **kwargs):
        advisor = self.get_object()
        data = _valid(AdvisorUpdateSerializer, request.data, partial=kwargs.get("partial"))
        advisor_update(advisor=advisor, actor=request.user, **data)
        return Response(self._out(advisor))

    @extend_schema(request=AdvisorDisableSerializer, responses=AdvisorSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        advisor = self.get_object()
        data = _valid(AdvisorDisableSerializer, request.data)
        advisor_disable(advisor=advisor, reason=data["reason"], actor=request.user)
        return Response(self._out(advisor))

    @extend_schema(request=None, responses=AdvisorSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        advisor = self.get_object()
        advisor_enable(advisor=advisor, actor=request.user)
        return Response(self._out(advisor))


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "file_too_large"


class ImportJobViewSet(
    ActionPermissionsMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Contact imports: upload (multipart `file`, `dry_run`, `advisors`), follow, get errors."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    action_permissions = {
        "errors": ["crm.view_importjob"],
        "resume": ["crm.add_importjob"],
    }
    throttle_scope = "bulk"
    queryset = ImportJob.objects.none()

    def get_queryset(self):
        return ImportJob.objects.order_by("-created_at", "-id")

    def get_throttles(self):
        if self.request.method != "POST":
            self.throttle_scope = None
        return super().get_throttles()

    @extend_schema(
        request={"multipart/form-data": ImportCreateSerializer},
        responses={202: ImportJobSerializer},
    )
    def create(self, request, *args, **kwargs):
        if upload_too_large(request):
            limit = settings.IMPORT_MAX_BYTES // (1024 * 1024)
            raise PayloadTooLarge(f"The file is larger than the {limit} MB limit.")
        data = _valid(ImportCreateSerializer, request.data)
        job = import_job_create(
            upload=data["file"], actor=request.user, dry_run=data["dry_run"],
            as_advisors=data["advisors"],
        )  # fmt: skip
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def errors(self, request, pk=None):  # routed as GET imports/{id}/errors.csv
        """Every rejected row: line, column, value, reason (cells safe for spreadsheets)."""
        return import_errors_csv_response(self.get_object())

    @extend_schema(request=None, responses={202: ImportJobSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Continue a failed or stuck import from its checkpoint."""
        job = import_job_resume(job=self.get_object(), actor=request.user)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
