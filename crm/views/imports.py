from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.audit import audit_record
from core.csv_safe import csv_stream
from core.errors import DomainError
from core.models import AuditAction
from core.permissions import staff_permission_required
from crm import selectors
from crm.forms import ImportForm
from crm.importing.jobs import import_job_create, import_job_from_dry_run, import_job_resume
from crm.models import ImportJob
from crm.views.common import paginate

FIRST_ERRORS = 20


def upload_too_large(request) -> bool:
    """Refuse by Content-Length before Django reads a huge body into a temporary file."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.IMPORT_MAX_BYTES + 64 * 1024


@require_GET
@staff_permission_required("crm.view_importjob")
def import_list(request):
    page = paginate(request, selectors.import_job_list())
    return render(request, "crm/imports/list.html", {"page": page})


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.add_importjob")
def import_new(request):
    if request.method == "POST" and upload_too_large(request):
        limit = settings.IMPORT_MAX_BYTES // (1024 * 1024)
        return HttpResponse(f"The file is larger than the {limit} MB limit.", status=413)
    form = ImportForm(request.POST or None, request.FILES or None)
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
            return redirect("crm:import_detail", pk=job.pk)
    return render(
        request,
        "crm/imports/new.html",
        {
            "form": form,
            "max_mb": settings.IMPORT_MAX_BYTES // (1024 * 1024),
            "region": settings.PHONE_DEFAULT_REGION,
        },
    )


def _job_context(job: ImportJob) -> dict:
    return {"job": job, "first_errors": selectors.import_job_errors(job)[:FIRST_ERRORS]}


@require_GET
@staff_permission_required("crm.view_importjob")
def import_detail(request, pk: int):
    job = get_object_or_404(ImportJob.objects.select_related("created_by", "source_job"), pk=pk)
    return render(request, "crm/imports/detail.html", _job_context(job))


@require_GET
@staff_permission_required("crm.view_importjob")
def import_progress(request, pk: int):
    """htmx partial, polled every second while the job runs (polling stops when it ends)."""
    job = get_object_or_404(ImportJob, pk=pk)
    return render(request, "crm/imports/_progress.html", _job_context(job))


def import_errors_csv_response(job: ImportJob) -> StreamingHttpResponse:
    audit_record(AuditAction.EXPORT, obj=job, details={"what": "import errors"})
    rows = (
        (e.line, e.column, e.value, e.reason)
        for e in selectors.import_job_errors(job).iterator(chunk_size=2000)
    )
    response = StreamingHttpResponse(
        csv_stream(["line", "column", "value", "reason"], rows),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@require_GET
@staff_permission_required("crm.view_importjob")
def import_errors_csv(request, pk: int):
    return import_errors_csv_response(get_object_or_404(ImportJob, pk=pk))


@require_POST
@staff_permission_required("crm.add_importjob")
def import_resume(request, pk: int):
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        import_job_resume(job=job, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The import continues from its last checkpoint.")
    return redirect("crm:import_detail", pk=pk)


@require_POST
@staff_permission_required("crm.add_importjob")
def import_run_for_real(request, pk: int):
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        real = import_job_from_dry_run(job=job, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("crm:import_detail", pk=pk)
    return redirect("crm:import_detail", pk=real.pk)
