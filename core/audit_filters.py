"""The filters of the audit log, shared by the staff page, its CSV export and the API."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.models import AuditAction, AuditEvent

# Dates outside these years are typing mistakes or probes (0001-01-01, 9999-12-31); refusing
# them keeps time-zone arithmetic away from the calendar's edges.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(EARLIEST), MaxValueValidator(LATEST)],
    )


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False, max_length=150, help_text="User name or token name (part of it)."
    )
    action = forms.ChoiceField(required=False, choices=[("", "Any"), *AuditAction.choices])
    object_type = forms.CharField(
        required=False, max_length=100, label="Object type", help_text="e.g. crm.contact"
    )
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    date_from = _date_field("From")
    date_to = _date_field("To")

    def clean_actor(self):
        return _no_nul(self.cleaned_data["actor"].strip())

    def clean_object_id(self):
        return _no_nul(self.cleaned_data["object_id"].strip())

    def clean_object_type(self):
        value = _no_nul(self.cleaned_data["object_type"].strip().lower())
        if not value:
            return None
        app_label, _, model = value.partition(".")
        found = ContentType.objects.filter(app_label=app_label, model=model).first()
        if not model or found is None:
            raise forms.ValidationError("Give an object type as app.model, e.g. crm.contact.")
        return found

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("'From' is after 'To'.")
        return data

    def filters(self) -> dict:
        """The filters that are set, as query-string values (for the export's audit event)."""
        return {k: v for k, v in self.data.items() if k in self.fields and v}


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise forms.ValidationError("This value holds a character that is not allowed.")
    return value


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_events(form: AuditFilterForm | None = None) -> QuerySet[AuditEvent]:
    """Audit events, newest first, narrowed by a valid `form`."""
    events = AuditEvent.objects.select_related("content_type", "actor", "token")
    data = form.cleaned_data if form is not None and form.is_valid() else {}
    if data.get("actor"):
        actor = data["actor"]
        events = events.filter(Q(actor__username=actor) | Q(actor_label__icontains=actor))
    if data.get("action"):
        events = events.filter(action_name=data["action"])
    if data.get("object_type"):
        events = events.filter(content_type=data["object_type"])
    if data.get("object_id"):
        events = events.filter(object_pk=data["object_id"])
    if data.get("date_from"):
        events = events.filter(timestamp__gte=_start_of(data["date_from"]))
    if data.get("date_to"):
        events = events.filter(timestamp__lt=_start_of(data["date_to"] + timedelta(days=1)))
    return events.order_by("-timestamp", "-pk")
