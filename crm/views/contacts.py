from __future__ import annotations

from django.contrib import messages
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.audit import audit_record
from core.csv_safe import csv_stream
from core.errors import DomainError
from core.models import AuditAction
from core.permissions import staff_permission_required
from crm import selectors
from crm.forms import ConsentForm, ContactFilterForm, ContactForm, EraseForm, MergeForm
from crm.models import AttributeDefinition, ConsentSource, Contact
from crm.services import (
    consent_set,
    contact_block,
    contact_create,
    contact_erase,
    contact_merge,
    contact_update,
)
from crm.views.common import form_error_from, paginate, query_without_page


@require_GET
@staff_permission_required("crm.view_contact")
def contact_list(request):
    form = ContactFilterForm(request.GET or None)
    contacts = selectors.contact_search(**form.search_kwargs())
    page = paginate(request, contacts)
    return render(
        request,
        "crm/contacts/list.html",
        {"form": form, "page": page, "query": query_without_page(request)},
    )


EXPORT_FIELDS = [
    "id", "phone", "name", "profile_name", "language", "consent", "blocked", "undeliverable",
    "tags", "advisor", "created_at", "last_inbound_at",
]  # fmt: skip


def contact_export_response(
    queryset, *, filename: str, audit_obj=None, audit_details: dict | None = None
) -> StreamingHttpResponse:
    """Stream contacts as CSV, each cell safe against formula injection (phones stay E.164).

    Every export is an audit event (what, which filters, how many rows)."""
    audit_record(
        AuditAction.EXPORT,
        obj=audit_obj,
        details={"what": "contacts", "rows": queryset.count(), **(audit_details or {})},
    )
    keys = list(AttributeDefinition.objects.order_by("key").values_list("key", flat=True))
    header = [*EXPORT_FIELDS, *(f"attr:{k}" for k in keys)]

    def rows():
        for c in queryset.order_by("pk").iterator(chunk_size=2000):
            attributes = c.attributes or {}
            yield [
                c.pk, c.phone, c.name, c.profile_name, c.language, c.consent, c.blocked,
                c.undeliverable, "; ".join(t.name for t in c.tags.all()),
                hasattr(c, "advisor"), c.created_at, c.last_inbound_at,
                *(attributes.get(k) for k in keys),
            ]  # fmt: skip

    response = StreamingHttpResponse(
        csv_stream(header, rows(), phone_columns=[1]), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@staff_permission_required("crm.view_contact", "crm.export_contact")
def contact_export(request):
    form = ContactFilterForm(request.GET or None)
    queryset = selectors.contact_search(**form.search_kwargs())
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    filters = {k: v for k, v in request.GET.items() if v}
    return contact_export_response(
        queryset, filename=f"contacts-{stamp}.csv", audit_details={"filters": filters}
    )


def _contact_or_404(pk: int) -> Contact:
    try:
        return selectors.contact_detail(pk)
    except Contact.DoesNotExist:
        raise Http404("No such contact.") from None


@require_GET
@staff_permission_required("crm.view_contact")
def contact_detail(request, pk: int):
    contact = _contact_or_404(pk)
    definitions = {d.key: d for d in AttributeDefinition.objects.all()}
    attributes = [
        (definitions[k].label if k in definitions else k, v)
        for k, v in sorted((contact.attributes or {}).items())
    ]
    return render(
        request,
        "crm/contacts/detail.html",
        {
            "contact": contact,
            "attributes": attributes,
            "consent_events": selectors.contact_consent_history(contact),
            "number_changes": selectors.contact_number_history(contact),
            "recent_messages": selectors.contact_recent_messages(contact),
            "conversation_count": selectors.contact_conversation_count(contact),
            "consent_form": ConsentForm(initial={"consent": contact.consent}),
            "merge_form": MergeForm(),
        },
    )


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.add_contact")
def contact_new(request):
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            contact = contact_create(
                phone=data["phone"], name=data["name"], language=data["language"],
                tags=data["tags"], attributes=form.attributes(), actor=request.user,
            )  # fmt: skip
        except DomainError as exc:
            form_error_from(form, exc)
        else:
            if data["pinned"]:
                contact_update(contact=contact, pinned=True, actor=request.user)
            messages.success(request, f"Contact {contact} created.")
            return redirect("crm:contact_detail", pk=contact.pk)
    return render(request, "crm/contacts/form.html", {"form": form, "contact": None})


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.change_contact")
def contact_edit(request, pk: int):
    contact = _contact_or_404(pk)
    form = ContactForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            contact_update(
                contact=contact, actor=request.user, tags=data["tags"],
                phone=data["phone"] or None, name=data["name"], language=data["language"],
                attributes=form.attributes(), pinned=data["pinned"],
            )  # fmt: skip
        except DomainError as exc:
            form_error_from(form, exc)
        else:
            messages.success(request, "Contact saved.")
            return redirect("crm:contact_detail", pk=contact.pk)
    return render(request, "crm/contacts/form.html", {"form": form, "contact": contact})


@require_POST
@staff_permission_required("crm.change_consent")
def contact_consent(request, pk: int):
    contact = get_object_or_404(Contact, pk=pk)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a consent value and give a reason.")
    else:
        event = consent_set(
            contact=contact, consent=form.cleaned_data["consent"], source=ConsentSource.STAFF,
            actor=request.user, note=form.cleaned_data["note"],
        )  # fmt: skip
        if event is None:
            messages.info(request, "Consent was already that; nothing changed.")
        else:
            messages.success(request, f"Consent is now {event.get_consent_display().lower()}.")
    return redirect("crm:contact_detail", pk=pk)


@require_POST
@staff_permission_required("crm.change_contact")
def contact_block_view(request, pk: int):
    contact = get_object_or_404(Contact, pk=pk)
    blocked = request.POST.get("blocked") == "1"
    contact_block(contact=contact, blocked=blocked, actor=request.user)
    messages.success(request, "Contact blocked." if blocked else "Contact unblocked.")
    return redirect("crm:contact_detail", pk=pk)


def _find_duplicate(text: str, keep: Contact) -> Contact | None:
    """The contact typed into the merge form: a short number is an id, anything else a phone."""
    text = text.strip()
    try:
        if text.isdigit() and len(text) < 10:
            duplicate = selectors.contact_resolve(contact_id=int(text))
        else:
            duplicate = selectors.contact_resolve(phone=text)
    except DomainError:  # InvalidPhone or ContactUnresolved: the form says "not found"
        return None
    return None if duplicate.pk == keep.pk else duplicate


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.view_contact", "crm.merge_contact")
def contact_merge_view(request, pk: int):
    """Step 1: name the duplicate; step 2: confirm, seeing both side by side."""
    keep = _contact_or_404(pk)
    form = MergeForm(request.POST or request.GET or None)
    duplicate = None
    if form.is_bound and form.is_valid():
        duplicate = _find_duplicate(form.cleaned_data["duplicate"], keep)
        if duplicate is None:
            form.add_error("duplicate", "No other contact has that phone number or id.")
    if request.method == "POST" and duplicate is not None and request.POST.get("confirm") == "1":
        try:
            contact_merge(keep=keep, duplicate=duplicate, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Merged {duplicate} into {keep}.")
            return redirect("crm:contact_detail", pk=keep.pk)
    return render(
        request,
        "crm/contacts/merge.html",
        {"keep": keep, "duplicate": duplicate, "form": form},
    )


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.view_contact", "crm.erase_contact")
def contact_erase_view(request, pk: int):
    """Confirm (type ERASE), then erase the person's data; the record keeps the consent."""
    contact = _contact_or_404(pk)
    if contact.is_erased:
        messages.info(request, "This contact was already erased.")
        return redirect("crm:contact_detail", pk=pk)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            removed = contact_erase(contact=contact, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            total = sum(removed.values())
            messages.success(request, f"Contact #{pk} erased ({total} items removed).")
            return redirect("crm:contact_detail", pk=pk)
    return render(
        request,
        "crm/contacts/erase.html",
        {
            "contact": contact,
            "form": form,
            "consent_count": contact.consent_events.count(),
            "conversation_count": selectors.contact_conversation_count(contact),
        },
    )


@require_GET
@staff_permission_required("crm.view_contact", "crm.export_contact")
def contact_data_export_view(request, pk: int):
    """The right of access: everything held about one contact, as a JSON download."""
    contact = _contact_or_404(pk)
    data = selectors.contact_data_export(contact)
    audit_record(AuditAction.EXPORT, obj=contact, details={"what": "contact data"})
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="contact-{pk}.json"'
    return response
