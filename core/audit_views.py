"""`/staff/audit/`: the audit log for Admins: filters, changed fields, CSV of the filtered list."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.audit import audit_record
from core.audit_filters import AuditFilterForm, audit_events
from core.csv_safe import csv_stream
from core.models import AuditAction
from core.permissions import staff_permission_required

VIEW = "core.view_auditevent"
PAGE_SIZE = 50
CSV_HEADER = [
    "id", "timestamp", "action", "actor", "token", "address", "object_type", "object_id",
    "object", "changes", "details", "request_id",
]  # fmt: skip


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@require_GET
@staff_permission_required("core.access_staff", VIEW)
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    events = audit_events(form) if form.is_bound and form.is_valid() else audit_events(None)
    if form.is_bound and not form.is_valid():
        events = events.none()
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "staff/audit.html",
        {"form": form, "page": page, "query": _query_without_page(request)},
    )


@require_GET
@staff_permission_required("core.access_staff", VIEW)
def audit_export(request):
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        page = Paginator(audit_events(None).none(), PAGE_SIZE).get_page(1)
        context = {"form": form, "page": page, "query": _query_without_page(request)}
        return render(request, "staff/audit.html", context, status=400)
    events = audit_events(form if form.is_bound else None)
    audit_record(AuditAction.EXPORT, details={"what": "audit log", "filters": form.filters()})

    def rows():
        for e in events.iterator(chunk_size=2000):
            yield [
                e.pk, e.timestamp, e.action_name, e.actor_label, e.token_id or "",
                e.remote_addr, e.content_type and e.content_type.natural_key(),
                e.object_pk, e.object_repr,
                json.dumps(e.changes, default=str) if e.changes else "",
                json.dumps(e.additional_data, default=str) if e.additional_data else "",
                e.cid,
            ]  # fmt: skip

    response = StreamingHttpResponse(
        csv_stream(CSV_HEADER, rows()), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
