"""The per-agent and per-team report page and its CSV export (`messaging.inbox.report`)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.csv_safe import csv_stream
from core.permissions import staff_permission_required
from messaging.inbox.forms import ReportPeriodForm
from messaging.inbox.report import CSV_HEADER, agent_report, agent_report_csv_rows, period_for

PERMISSION = "messaging.view_agent_report"


def _period(request):
    form = ReportPeriodForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    period = period_for(data.get("start"), data.get("end"))
    if not form.is_bound or not form.is_valid():  # show the period actually reported
        form = ReportPeriodForm(initial={"start": period.first, "end": period.last})
    return form, period


@require_GET
@staff_permission_required(PERMISSION)
def agent_report_page(request):
    form, period = _period(request)
    report = agent_report(period)
    return render(
        request,
        "messaging/inbox/agent_report.html",
        {
            "form": form,
            "report": report,
            "query": f"start={period.first.isoformat()}&end={period.last.isoformat()}",
        },
    )


@require_GET
@staff_permission_required(PERMISSION)
def agent_report_export(request):
    _form, period = _period(request)
    report = agent_report(period)
    response = StreamingHttpResponse(
        csv_stream(CSV_HEADER, agent_report_csv_rows(report)), content_type="text/csv"
    )
    name = f"agent-report-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
