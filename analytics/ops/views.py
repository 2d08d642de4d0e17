"""Staff pages of the operations centre (mounted at /staff/operations/, namespace `ops`).

Every page needs `core.view_operations`; starting or cancelling a job also needs
`core.run_jobs` and the job's own permission; backups need `core.manage_backups` (Admin
only); replaying a webhook needs `messaging.replay_webhookevent`. Views stay thin: they
call analytics.ops services and selectors.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.ops import errorlog, events
from analytics.ops.backup import backup_file, backup_runs, backups_list
from analytics.ops.board import board_build
from analytics.ops.health import SPARKLINES, health_collect, health_history
from analytics.ops.jobs import (
    JobAlreadyRunning,
    JobArgumentError,
    UnknownJob,
    job_cancel,
    job_get,
    job_start,
    jobs_all,
    jobs_for_user,
)
from analytics.ops.models import JobRun, JobState, JobTrigger
from analytics.ops.sparkline import sparkline_svg, uptime_bars_svg
from core.audit import audit_record
from core.json_display import json_pretty
from core.models import AuditAction
from core.permissions import staff_permission_required
from messaging.providers.error_codes import error_code_info
from messaging.webhooks.services import webhook_events_replay

VIEW = "core.view_operations"
RUN = "core.run_jobs"
BACKUPS = "core.manage_backups"
PAGE_SIZE = 50


def _page(request, rows, per_page: int = PAGE_SIZE):
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


# --- Health and board --------------------------------------------------------------------------


def _health_context() -> dict:
    report = health_collect()
    history = health_history(report["time"])
    for component in report["components"]:
        component["uptime_day"] = history["uptime_day"].get(component["key"])
        component["uptime_week"] = history["uptime_week"].get(component["key"])
    sparklines = [
        {"label": label, "svg": sparkline_svg(history["series"][key], label=label)}
        for key, label in SPARKLINES
    ]
    return {
        "report": report,
        "history": history,
        "sparklines": sparklines,
        "uptime_bars": uptime_bars_svg(history["hourly_ok"], label="Overall, hour by hour"),
    }


@never_cache
@require_GET
@staff_permission_required(VIEW)
def health(request):
    context = _health_context()
    context["board"] = board_build(user=request.user)
    context["poll_seconds"] = _poll_seconds()
    return render(request, "analytics/ops/health.html", context)


def _poll_seconds() -> int:
    return max(1, settings.OPS_HEALTH_POLL_SECONDS)


@never_cache
@require_GET
@staff_permission_required(VIEW)
def health_partial(request):
    """htmx partial, polled every OPS_HEALTH_POLL_SECONDS by the operations page."""
    context = _health_context()
    context["poll_seconds"] = _poll_seconds()
    return render(request, "analytics/ops/_health.html", context)


@never_cache
@require_GET
@staff_permission_required(VIEW)
def board(request):
    return render(request, "analytics/ops/_board.html", {"board": board_build(user=request.user)})


# --- Jobs --------------------------------------------------------------------------------------


class JobHistoryFilter(forms.Form):
    name = forms.ChoiceField(required=False)
    state = forms.ChoiceField(required=False, choices=[("", "any state"), *JobState.choices])
    trigger = forms.ChoiceField(required=False, choices=[("", "any trigger"), *JobTrigger.choices])
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].choices = [("", "any job")] + [(d.name, d.title) for d in jobs_all()]


@require_GET
@staff_permission_required(VIEW)
def jobs(request):
    form = JobHistoryFilter(request.GET or None)
    runs = JobRun.objects.select_related("started_by").defer("log")
    if form.is_valid():
        data = form.cleaned_data
        if data["name"]:
            runs = runs.filter(name=data["name"])
        if data["state"]:
            runs = runs.filter(state=data["state"])
        if data["trigger"]:
            runs = runs.filter(trigger=data["trigger"])
        if data["date"]:
            runs = runs.filter(created_at__date=data["date"])
    titles = {d.name: d.title for d in jobs_all()}
    return render(
        request,
        "analytics/ops/jobs.html",
        {
            "form": form,
            "page": _page(request, runs),
            "query": _query_without_page(request),
            "startable": jobs_for_user(request.user),
            "titles": titles,
            "may_backup": request.user.has_perm(BACKUPS),
        },
    )


def _argument_form(definition, data=None) -> forms.Form:
    fields = {}
    for argument in definition.arguments:
        if argument.kind == "bool":
            field = forms.BooleanField(required=False, help_text=argument.help)
        elif argument.kind == "choice":
            field = forms.ChoiceField(
                required=argument.required,
                help_text=argument.help,
                choices=[("", "---"), *((c, c) for c in argument.choices)],
            )
        else:
            field = forms.CharField(
                required=argument.required, help_text=argument.help, max_length=200
            )
        fields[argument.name] = field
    form_class = type("JobArgumentsForm", (forms.Form,), fields)
    return form_class(data)


@require_http_methods(["GET", "POST"])
@staff_permission_required(VIEW, RUN)
def job_start_view(request, name: str):
    """GET: what the job does and its arguments, with a confirmation button. POST: start it."""
    try:
        definition = job_get(name)
    except UnknownJob as exc:
        raise Http404(exc.message) from exc
    if not definition.user_may_start(request.user):
        raise PermissionDenied
    form = _argument_form(definition, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        raw = {k: v for k, v in form.cleaned_data.items() if v not in (None, "", False)}
        try:
            run = job_start(
                name=name, started_by=request.user, arguments=raw, trigger=JobTrigger.USER
            )
        except JobArgumentError as exc:
            placed = False
            for field, problem in exc.details.items():
                if field in form.fields:
                    form.add_error(field, str(problem))
                    placed = True
            if not placed:
                form.add_error(None, exc.message)
        except JobAlreadyRunning as exc:
            messages.error(request, exc.message)
            if exc.job_run is not None:
                return redirect("ops:job_detail", pk=exc.job_run.pk)
            return redirect("ops:jobs")
        else:
            messages.success(request, f"“{definition.title}” was queued as run #{run.pk}.")
            return redirect("ops:job_detail", pk=run.pk)
    return render(request, "analytics/ops/job_start.html", {"definition": definition, "form": form})


def _job_context(run: JobRun, user) -> dict:
    try:
        definition = job_get(run.name)
    except UnknownJob:
        definition = None
    return {
        "run": run,
        "definition": definition,
        "title": definition.title if definition else run.name,
        "may_cancel": bool(definition and definition.user_may_start(user) and run.is_active),
        "counts": sorted((run.counts or {}).items()),
        "arguments": sorted((run.arguments or {}).items()),
    }


@require_GET
@staff_permission_required(VIEW)
def job_detail(request, pk: int):
    run = get_object_or_404(JobRun.objects.select_related("started_by"), pk=pk)
    return render(request, "analytics/ops/job_detail.html", _job_context(run, request.user))


@never_cache
@require_GET
@staff_permission_required(VIEW)
def job_progress(request, pk: int):
    """htmx partial, polled every second while the run is queued or running."""
    run = get_object_or_404(JobRun.objects.select_related("started_by"), pk=pk)
    return render(request, "analytics/ops/_job_progress.html", _job_context(run, request.user))


@require_POST
@staff_permission_required(VIEW, RUN)
def job_cancel_view(request, pk: int):
    run = get_object_or_404(JobRun, pk=pk)
    try:
        definition = job_get(run.name)
    except UnknownJob:
        definition = None
    if definition is None or not definition.user_may_start(request.user):
        raise PermissionDenied
    run = job_cancel(job_run=run)
    if run.state == JobState.CANCELLED:
        messages.success(request, "The run was cancelled.")
    elif run.is_active:
        messages.info(request, "The job was asked to stop; it stops at its next report.")
    else:
        messages.info(request, "The run had already finished.")
    return redirect("ops:job_detail", pk=run.pk)


@require_GET
@staff_permission_required(VIEW, BACKUPS)
def backups(request):
    may_start = job_get("backup").user_may_start(request.user)
    runs = list(backup_runs())
    checksums = {
        (run.counts or {}).get("archive"): (run.counts or {}).get("sha256", "") for run in runs
    }
    files = [(entry, checksums.get(entry.name, "")) for entry in backups_list()]
    return render(
        request,
        "analytics/ops/backups.html",
        {
            "backups": files,
            "runs": runs,
            "may_start": may_start,
            "keep": settings.BACKUP_KEEP,
            "max_age_hours": settings.BACKUP_MAX_AGE_HOURS,
        },
    )


@require_GET
@staff_permission_required(VIEW, BACKUPS)
def backup_download(request, name: str):
    path = backup_file(name)  # looked up in the directory listing: no path traversal
    if path is None:
        raise Http404("No such backup.")
    audit_record(AuditAction.EXPORT, details={"what": "backup", "archive": path.name})
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/gzip"
    )


# --- Live events -------------------------------------------------------------------------------


@require_GET
@staff_permission_required(VIEW)
def events_page(request):
    kinds = events.kinds_clean(request.GET.getlist("kind"))
    items, cursor = events.events_initial(kinds=kinds)
    return render(
        request,
        "analytics/ops/events.html",
        {
            "events": items,
            "cursor": cursor.encode(),
            "kinds": kinds,
            "all_kinds": [(k, events.KIND_LABELS[k]) for k in events.KINDS],
            "kind_query": "&".join(f"kind={k}" for k in kinds),
        },
    )


@never_cache
@require_GET
@staff_permission_required(VIEW)
def events_feed(request):
    """htmx partial polled every 2 s: new events since `after`, and the next poller."""
    kinds = events.kinds_clean(request.GET.getlist("kind"))
    cursor = events.Cursor.decode(request.GET.get("after"))
    if cursor is None:
        items, cursor = [], events.Cursor(at=timezone.now())
    else:
        items, cursor = events.events_after(cursor=cursor, kinds=kinds)
    return render(
        request,
        "analytics/ops/_events_feed.html",
        {
            "events": items,
            "cursor": cursor.encode(),
            "kind_query": "&".join(f"kind={k}" for k in kinds),
        },
    )


# --- Error log ---------------------------------------------------------------------------------


class ErrorFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    code = forms.IntegerField(required=False, label="Error code")
    channel = forms.ChoiceField(required=False)
    name = forms.ChoiceField(required=False, label="Job")
    logger = forms.CharField(required=False, max_length=200)
    level = forms.ChoiceField(
        required=False, choices=[("", "any level"), ("ERROR", "ERROR"), ("CRITICAL", "CRITICAL")]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", "any channel"), *errorlog.channel_filter_choices()]
        self.fields["name"].choices = [("", "any job")] + [(d.name, d.title) for d in jobs_all()]

    def filters(self) -> errorlog.ErrorFilters:
        data = self.cleaned_data if self.is_valid() else {}
        channel = data.get("channel")
        return errorlog.ErrorFilters(
            q=(data.get("q") or "").strip(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            code=data.get("code"),
            channel_id=int(channel) if channel else None,
            name=data.get("name") or "",
            logger=(data.get("logger") or "").strip(),
            level=data.get("level") or "",
        )


WEBHOOK_DEFAULT_DAYS = 7


@require_GET
@staff_permission_required(VIEW)
def errors(request):
    kind = request.GET.get("kind", "messages")
    if kind not in errorlog.KINDS:
        kind = "messages"
    form = ErrorFilterForm(request.GET or None)
    filters = form.filters()
    context = {
        "kind": kind,
        "kinds": errorlog.KINDS,
        "form": form,
        "summary": errorlog.error_summary(),
        "query": _query_without_page(request),
    }
    if kind == "messages":
        rows = errorlog.failed_messages(filters)
        page = _page(request, rows)
        for message in page.object_list:
            message.code_info = error_code_info(message.error_code)
        context["codes"] = [
            {**row, "info": error_code_info(row["error_code"])}
            for row in errorlog.failed_message_codes(rows)
        ]
    elif kind == "webhooks":
        if filters.date_from is None and filters.date_to is None:
            # Webhook bodies are large and many; without dates, look at the last week.
            since = timezone.localdate() - timedelta(days=WEBHOOK_DEFAULT_DAYS)
            filters = dataclasses.replace(filters, date_from=since)
            context["default_since"] = since
        page = _page(request, errorlog.failed_webhooks(filters))
        context["may_replay"] = request.user.has_perm("messaging.replay_webhookevent")
    elif kind == "jobs":
        page = _page(request, errorlog.failed_jobs(filters))
        titles = {d.name: d.title for d in jobs_all()}
        for run in page.object_list:
            run.title = titles.get(run.name, run.name)
    else:
        page = _page(request, errorlog.app_errors(filters))
    context["page"] = page
    return render(request, "analytics/ops/errors.html", context)


@require_GET
@staff_permission_required(VIEW)
def webhook_event(request, pk: int):
    event = get_object_or_404(errorlog.webhook_event_list(), pk=pk)
    shown = json_pretty(event.body)
    return render(
        request,
        "analytics/ops/webhook_event.html",
        {
            "event": event,
            "pretty": shown.text,
            "truncated": shown.truncated,
            "as_received": shown.as_received,
            "depth": shown.depth,
            "may_replay": request.user.has_perm("messaging.replay_webhookevent"),
        },
    )


@require_POST
@staff_permission_required(VIEW, "messaging.replay_webhookevent")
def webhook_replay(request, pk: int):
    event = get_object_or_404(errorlog.webhook_event_list(), pk=pk)
    count = webhook_events_replay(event_ids=[event.pk])
    if count:
        messages.success(request, f"Webhook event {event.pk} was queued for processing again.")
    else:
        messages.info(request, f"Webhook event {event.pk} could not be replayed.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("ops:webhook_event", args=[event.pk])
    return redirect(target)
