from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from crm import selectors
from crm.forms import SegmentForm
from crm.models import Contact, Segment
from crm.segment_filters import segment_filter_describe, segment_filter_q
from crm.services import segment_create, segment_update
from crm.views.common import form_error_from, paginate
from crm.views.contacts import contact_export_response


def _channels():
    return selectors.channel_choices()


@require_GET
@staff_permission_required("crm.view_segment")
def segment_list(request):
    page = paginate(request, selectors.segment_list())
    counts = selectors.segment_counts(page.object_list)
    rows = [(s, counts.get(s.pk, 0), segment_filter_describe(s.filter or {})) for s in page]
    return render(request, "crm/segments/list.html", {"page": page, "rows": rows})


@require_GET
@staff_permission_required("crm.view_segment", "crm.view_contact")
def segment_detail(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    contacts = selectors.segment_queryset(segment).prefetch_related("tags").order_by("-pk")
    page = paginate(request, contacts)
    return render(
        request,
        "crm/segments/detail.html",
        {
            "segment": segment,
            "page": page,
            "description": segment_filter_describe(segment.filter or {}),
        },
    )


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.add_segment")
def segment_new(request):
    form = SegmentForm(request.POST or None, channels=_channels())
    if request.method == "POST" and form.is_valid():
        try:
            segment = segment_create(
                name=form.cleaned_data["name"], description=form.cleaned_data["description"],
                filter=form.cleaned_data["filter"], actor=request.user,
            )  # fmt: skip
        except DomainError as exc:
            form_error_from(form, exc)
        else:
            messages.success(request, f"Segment {segment} saved.")
            return redirect("crm:segment_detail", pk=segment.pk)
    return render(request, "crm/segments/form.html", {"form": form, "segment": None})


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.change_segment")
def segment_edit(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    form = SegmentForm(request.POST or None, segment=segment, channels=_channels())
    if request.method == "POST" and form.is_valid():
        try:
            segment_update(
                segment=segment, name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                filter=form.cleaned_data["filter"], actor=request.user,
            )  # fmt: skip
        except DomainError as exc:
            form_error_from(form, exc)
        else:
            messages.success(request, "Segment saved.")
            return redirect("crm:segment_detail", pk=segment.pk)
    return render(request, "crm/segments/form.html", {"form": form, "segment": segment})


@require_POST
@staff_permission_required("crm.view_segment")
def segment_preview(request):
    """htmx: the live count of the filter being edited."""
    form = SegmentForm(request.POST, channels=_channels())
    form.is_valid()
    problems = [
        f"{form.fields[name].label or name}: {' '.join(errors)}"
        if name != "__all__"
        else " ".join(errors)
        for name, errors in form.errors.items()
        if name not in ("name", "description")
    ]
    if problems or "filter" not in form.cleaned_data:
        text = "; ".join(problems) or "Fix the filter to see a count."
        return HttpResponse(format_html('<span class="error">{}</span>', text))
    count = Contact.objects.filter(segment_filter_q(form.cleaned_data["filter"])).count()
    return HttpResponse(
        format_html('<strong data-testid="preview-count">{}</strong> contacts match', count)
    )


@require_GET
@staff_permission_required("crm.view_segment", "crm.export_contact")
def segment_export(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    queryset = selectors.segment_queryset(segment).prefetch_related("tags")
    queryset = queryset.select_related("advisor")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return contact_export_response(
        queryset, filename=f"segment-{segment.pk}-{stamp}.csv", audit_obj=segment
    )
