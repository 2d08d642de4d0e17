"""The operations centre's tables in the admin: job runs, the error log, health samples."""

from django.contrib import admin

from analytics.ops.models import AppError, HealthSample, JobRun
from core.admin import ReadOnlyExportAdmin


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyExportAdmin):
    list_display = ["name", "state", "trigger", "started_by", "created_at", "finished_at"]
    list_filter = ["name", "state", "trigger", "created_at"]
    list_select_related = ["started_by"]


@admin.register(AppError)
class AppErrorAdmin(ReadOnlyExportAdmin):
    list_display = ["created_at", "level", "logger", "message", "request_id"]
    list_filter = ["level", "created_at"]
    search_fields = ["message", "logger", "request_id"]


@admin.register(HealthSample)
class HealthSampleAdmin(ReadOnlyExportAdmin):
    list_display = ["created_at", "ok"]
    list_filter = ["ok", "created_at"]
