"""Admin for crm. Consent is read-only everywhere here: it changes through `consent_set` (the
opt-in/opt-out actions and the staff contact page), so every change leaves a ConsentEvent."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyModelAdmin
from core.errors import DomainError
from crm import selectors
from crm.importing.jobs import import_job_create, import_job_from_dry_run, import_job_resume
from crm.models import (
    Advisor,
    AttributeDefinition,
    Consent,
    ConsentEvent,
    ConsentSource,
    Contact,
    ContactNumberChange,
    ImportJob,
    ImportRowError,
    ImportStatus,
    Segment,
    StaffProfile,
    Tag,
)
from crm.segment_filters import segment_filter_clean, segment_filter_describe
from crm.services import (
    InvalidPhone,
    advisor_disable,
    advisor_enable,
    attributes_clean,
    consent_set,
    contact_merge,
    phone_normalize,
)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "color", "contact_count", "created_at"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return selectors.tag_list()

    @admin.display(ordering="contact_count")
    def contact_count(self, tag):
        return tag.contact_count


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    list_display = ["key", "label", "type", "choices"]
    list_filter = ["type"]
    search_fields = ["key", "label"]


class ConsentEventInline(admin.TabularInline):
    model = ConsentEvent
    fields = ["created_at", "previous", "consent", "source", "actor", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ContactAdminForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "phone", "wa_id", "bsuid", "name", "profile_name", "language", "tags", "attributes",
            "blocked", "pinned", "undeliverable", "undeliverable_reason",
        ]  # fmt: skip

    def clean_phone(self):
        phone = self.cleaned_data.get("phone")
        if not phone:
            return None
        try:
            return phone_normalize(phone)
        except InvalidPhone as exc:
            raise ValidationError(exc.message) from None

    def clean_bsuid(self):
        return self.cleaned_data.get("bsuid") or None

    def clean_attributes(self):
        try:
            return attributes_clean(self.cleaned_data.get("attributes") or {})
        except DomainError as exc:
            raise ValidationError(exc.message) from None


class MergeChoiceForm(forms.Form):
    keep = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Keep")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactAdminForm
    list_display = ["display_name", "phone", "consent", "blocked", "undeliverable", "created_at"]
    list_filter = ["consent", "blocked", "undeliverable", "pinned", "tags"]
    search_fields = ["name", "profile_name", "phone", "wa_id", "bsuid"]
    readonly_fields = ["consent", "consent_updated_at", "unread_count", "last_inbound_at",
                       "last_outbound_at", "created_at", "updated_at", "staff_page"]  # fmt: skip
    filter_horizontal = ["tags"]
    inlines = [ConsentEventInline]
    actions = ["opt_in", "opt_out", "merge_two"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        # An erased contact is the pseudonymous record of a consent history: nothing to edit.
        if obj is not None and obj.erased_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        """Consent history protects a contact (PROTECT, and the events cannot be deleted): the
        page refuses, and says to erase instead, as the API's DELETE does."""
        contact = self.get_object(request, object_id)
        if contact is not None and contact.consent_events.exists():
            self.message_user(
                request,
                "This contact has consent history, which must be kept: erase the contact "
                "instead (Erase on its staff page, or POST /api/v1/contacts/{id}/erase/).",
                messages.ERROR,
            )
        return super().delete_view(request, object_id, extra_context)

    @admin.display(description="Staff page")
    def staff_page(self, contact):
        if not contact.pk:
            return "—"
        url = reverse("crm:contact_detail", args=[contact.pk])
        return format_html('<a href="{}">Open the contact page</a>', url)

    def _consent_action(self, request, queryset, consent: str):
        if not request.user.has_perm("crm.change_consent"):
            raise PermissionDenied
        changed = 0
        for contact in queryset:
            event = consent_set(
                contact=contact, consent=consent, source=ConsentSource.STAFF,
                actor=request.user, note="admin action",
            )  # fmt: skip
            changed += event is not None
        self.message_user(request, f"Consent changed for {changed} contact(s).")

    @admin.action(description="Mark opted in (records a consent event)")
    def opt_in(self, request, queryset):
        self._consent_action(request, queryset, Consent.OPTED_IN)

    @admin.action(description="Mark opted out (records a consent event)")
    def opt_out(self, request, queryset):
        self._consent_action(request, queryset, Consent.OPTED_OUT)

    @admin.action(description="Merge the two selected contacts")
    def merge_two(self, request, queryset):
        if not request.user.has_perm("crm.merge_contact"):
            raise PermissionDenied
        contacts = list(queryset[:3])
        if len(contacts) != 2:
            self.message_user(request, "Select exactly two contacts to merge.", messages.ERROR)
            return None
        form = MergeChoiceForm(request.POST if "keep" in request.POST else None)
        form.fields["keep"].choices = [(c.pk, f"{c} ({c.phone or c.bsuid})") for c in contacts]
        if form.is_bound and form.is_valid():
            keep = next(c for c in contacts if c.pk == form.cleaned_data["keep"])
            duplicate = next(c for c in contacts if c.pk != keep.pk)
            try:
                contact_merge(keep=keep, duplicate=duplicate, actor=request.user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"Merged {duplicate} into {keep}.")
            return None
        return TemplateResponse(
            request,
            "admin/crm/contact/merge.html",
            {
                **self.admin_site.each_context(request),
                "title": "Merge two contacts",
                "contacts": contacts,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyModelAdmin):
    """Append-only: nobody adds, changes or deletes consent events here."""

    list_display = ["created_at", "contact", "previous", "consent", "source", "actor", "note"]
    list_filter = ["source", "consent", "created_at"]
    search_fields = ["contact__phone", "contact__name", "note"]
    list_select_related = ["contact", "actor"]
    date_hierarchy = "created_at"


class SegmentAdminForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "filter"]

    def clean_filter(self):
        try:
            return segment_filter_clean(self.cleaned_data.get("filter") or {})
        except ValidationError as exc:
            problems = getattr(exc, "error_dict", None)
            if problems is None:
                raise
            raise ValidationError(
                [f"{part}: {m}" for part, errors in exc.message_dict.items() for m in errors]
            ) from None


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentAdminForm
    list_display = ["name", "description", "live_count", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["live_count", "explained", "created_by", "created_at", "updated_at"]

    @admin.display(description="contacts now")
    def live_count(self, segment):
        return selectors.segment_count(segment) if segment.pk else "—"

    @admin.display(description="filter in words")
    def explained(self, segment):
        return "; ".join(segment_filter_describe(segment.filter or {}))

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class DisableForm(forms.Form):
    reason = forms.CharField(max_length=300)


@admin.register(Advisor)
class AdvisorAdmin(admin.ModelAdmin):
    list_display = ["contact", "firm", "region", "tier", "is_active", "onboarded_on"]
    list_filter = ["is_active", "tier", "region"]
    search_fields = ["contact__name", "contact__phone", "firm", "region"]
    list_select_related = ["contact"]
    raw_id_fields = ["contact"]
    readonly_fields = ["is_active", "disabled_reason", "disabled_at", "disabled_by", "activity",
                       "created_at", "updated_at"]  # fmt: skip
    actions = ["disable", "enable"]

    @admin.display(description="received / clicked")
    def activity(self, advisor):
        if not advisor.pk:
            return "—"
        counts = selectors.advisor_activity_counts(advisor)
        url = reverse("crm:advisor_detail", args=[advisor.pk])
        return format_html(
            '{} received, {} clicked (<a href="{}">details</a>)',
            counts["received"], counts["clicked"], url,
        )  # fmt: skip

    @admin.action(description="Disable (asks for a reason)")
    def disable(self, request, queryset):
        form = DisableForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            for advisor in queryset:
                advisor_disable(
                    advisor=advisor, reason=form.cleaned_data["reason"], actor=request.user
                )
            self.message_user(request, f"Disabled {queryset.count()} advisor(s).")
            return None
        return TemplateResponse(
            request,
            "admin/crm/advisor/disable.html",
            {
                **self.admin_site.each_context(request),
                "title": "Disable advisors",
                "advisors": queryset.select_related("contact"),
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Enable again")
    def enable(self, request, queryset):
        for advisor in queryset:
            advisor_enable(advisor=advisor, actor=request.user)
        self.message_user(request, f"Enabled {queryset.count()} advisor(s).")


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    fields = ["line", "column", "value", "reason"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        first = list(queryset.order_by("line", "id").values_list("pk", flat=True)[:50])
        return queryset.filter(pk__in=first)


class ImportUploadForm(forms.Form):
    file = forms.FileField()
    dry_run = forms.BooleanField(required=False, initial=True)
    as_advisors = forms.BooleanField(required=False, label="Import as advisors")


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["original_name", "dry_run", "as_advisors", "status", "processed_rows",
                    "created_count", "updated_count", "error_count", "created_at"]  # fmt: skip
    list_filter = ["status", "dry_run", "as_advisors", "format"]
    search_fields = ["original_name"]
    inlines = [ImportRowErrorInline]
    actions = ["resume", "run_for_real"]

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in self.model._meta.fields), "links"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="links")
    def links(self, job):
        return format_html(
            '<a href="{}">Progress page</a> · <a href="{}">Error report (CSV)</a>',
            reverse("crm:import_detail", args=[job.pk]),
            reverse("crm:import_errors", args=[job.pk]),
        )

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="crm_import_upload"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:crm_import_upload")

    def upload_view(self, request):
        """Upload a file: the same service as the staff page and the API."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = import_job_create(
                    upload=form.cleaned_data["file"], actor=request.user,
                    dry_run=form.cleaned_data["dry_run"],
                    as_advisors=form.cleaned_data["as_advisors"],
                )  # fmt: skip
            except DomainError as exc:
                form.add_error("file", exc.message)
            else:
                self.message_user(request, f"Import job #{job.pk} queued.")
                return redirect("admin:crm_importjob_change", job.pk)
        return TemplateResponse(
            request,
            "admin/crm/importjob/upload.html",
            {
                **self.admin_site.each_context(request),
                "title": "Import contacts",
                "form": form,
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Resume from the checkpoint")
    def resume(self, request, queryset):
        if not request.user.has_perm("crm.add_importjob"):
            raise PermissionDenied
        for job in queryset:
            try:
                import_job_resume(job=job, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"#{job.pk}: {exc.message}", messages.WARNING)

    @admin.action(description="Import the checked file for real (dry runs)")
    def run_for_real(self, request, queryset):
        if not request.user.has_perm("crm.add_importjob"):
            raise PermissionDenied
        for job in queryset.filter(dry_run=True, status=ImportStatus.COMPLETED):
            import_job_from_dry_run(job=job, actor=request.user)
        self.message_user(request, "Queued.")


@admin.register(ContactNumberChange)
class ContactNumberChangeAdmin(ReadOnlyModelAdmin):
    """Append-only history of contacts' numbers (written by `contact_number_change`)."""

    list_display = ["changed_at", "contact", "old_phone", "new_phone", "source"]
    list_filter = ["source", "changed_at"]
    search_fields = ["old_phone", "new_phone", "=old_wa_id", "=new_wa_id"]
    list_select_related = ["contact"]
    date_hierarchy = "changed_at"


@admin.register(ImportRowError)
class ImportRowErrorAdmin(ReadOnlyModelAdmin):
    """Rows an import refused, and why (the import job's report)."""

    list_display = ["job", "line", "column", "value", "reason"]
    list_filter = ["job"]
    search_fields = ["reason", "value"]
    list_select_related = ["job"]


@admin.register(StaffProfile)
class StaffProfileAdmin(ReadOnlyModelAdmin):
    """Staff members' own numbers (Admin only, core/roles.py). Read-only: a number is set on
    the member's profile page, where their consent to receive tests is recorded with it."""

    list_display = ["user", "phone", "updated_at"]
    search_fields = ["user__username", "phone"]
    list_select_related = ["user"]
