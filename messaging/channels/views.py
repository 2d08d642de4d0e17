"""Staff pages of channels: each WhatsApp number (health, limits, which secrets are set, the
webhook address to give Meta) and the message templates (status, quality, why one was
rejected, and a preview as the customer sees it)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from messaging.channels.authoring import (
    EDITABLE_AT_PROVIDER,
    TemplateInvalid,
    template_create,
    template_delete,
    template_submit,
    template_update,
)
from messaging.channels.forms import ChannelSettingsForm, TemplateBuilder, TemplateFilterForm
from messaging.channels.health import health_severity
from messaging.channels.models import (
    Channel,
    MessageTemplate,
    MessagingTier,
    NumberStatus,
    QualityRating,
    TemplateEventSource,
    TemplateStatus,
)
from messaging.channels.rendering import template_example_content, template_render
from messaging.channels.secrets import channel_secret_states
from messaging.channels.selectors import (
    channel_health,
    channels_active,
    channels_with_health,
    template_events,
    template_list,
    template_status_counts,
)
from messaging.channels.services import channel_health_sync, channel_resume
from messaging.channels.templates import templates_sync
from messaging.providers import UnknownProvider, provider_type

TEMPLATES_PER_PAGE = 20


def _label(choices, value: str) -> str:
    return choices(value).label if value in choices.values else (value or "—")


def _webhook(request, channel: Channel) -> tuple[str, str]:
    """The address the provider posts this number's webhooks to (as this page was reached),
    and where staff give it to the provider."""
    try:
        ptype = provider_type(channel.provider)
    except UnknownProvider:
        return "", ""
    if not ptype.webhook_url_name:
        return "", ""
    path = reverse(ptype.webhook_url_name)
    url = request.build_absolute_uri(path if path.endswith("/") else path + "/")
    return url, ptype.webhook_setup


def _number(request, channel: Channel) -> dict:
    health = channel_health(channel)
    return {
        "channel": channel,
        "health": health,
        "quality_label": _label(QualityRating, health.quality),
        "tier_label": (
            _label(MessagingTier, health.tier)
            if health.tier
            else "not known yet (the default limit applies)"
        ),
        "status_label": _label(NumberStatus, health.status),
        "severity": health_severity(quality=health.quality, status=health.status),
        "used_percent": (
            min(100, round(100 * health.recipients_24h / health.limit)) if health.limit else None
        ),
        "secrets": channel_secret_states(channel),
        "webhook": _webhook(request, channel),
    }


@require_GET
@staff_permission_required("messaging.view_channel")
def channel_list(request):
    """Every number, active first: one query for all of them with their 24-hour recipients."""
    channels = sorted(channels_with_health(), key=lambda c: (not c.is_active, c.name, c.pk))
    return render(
        request,
        "messaging/channels/list.html",
        {"numbers": [_number(request, c) for c in channels]},
    )


@staff_permission_required("messaging.change_channel")
def channel_edit(request, channel_id):
    channel = get_object_or_404(Channel, pk=channel_id)
    form = ChannelSettingsForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"{channel.name} saved.")
        return redirect("messaging:channel-list")
    return render(
        request,
        "messaging/channels/form.html",
        {"form": form, "channel": channel},
        status=422 if form.is_bound and form.errors else 200,
    )


@require_POST
@staff_permission_required("messaging.change_channel")
def channel_refresh(request, channel_id):
    """Read the number's quality, limit and status from the provider now (as the 15-minute
    schedule does)."""
    channel = get_object_or_404(Channel, pk=channel_id)
    result = channel_health_sync(channel=channel)
    if result.errors:
        messages.error(request, f"{channel.name}: {result.summary()}")
    else:
        messages.success(request, f"{channel.name}: {result.summary() or 'no change'}.")
    return redirect("messaging:channel-list")


@require_POST
@staff_permission_required("messaging.change_channel")
def channel_resume_sending(request, channel_id):
    """Clear a pause (bad credentials, a locked account) once its cause is fixed."""
    channel = get_object_or_404(Channel, pk=channel_id)
    if not channel.paused_reason:
        messages.info(request, f"{channel.name} was not paused.")
    else:
        channel_resume(channel=channel)
        messages.success(request, f"{channel.name}: sending resumed.")
    return redirect("messaging:channel-list")


# --- Templates ------------------------------------------------------------------------------


@require_GET
@staff_permission_required("messaging.view_messagetemplate")
def template_index(request):
    form = TemplateFilterForm(request.GET or None)
    page = Paginator(template_list(**form.filters()), TEMPLATES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    cards = [
        {
            "template": t,
            "status_label": _label(TemplateStatus, t.status),
            "preview": template_render(t, template_example_content(t)),
        }
        for t in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "messaging/templates/list.html",
        {
            "form": form,
            "page": page,
            "cards": cards,
            "query": query.urlencode(),
            "counts": [
                (status, _label(TemplateStatus, status), n)
                for status, n in sorted(template_status_counts().items())
            ],
            "sync_channels": list(channels_active().order_by("name")),
        },
    )


@require_POST
@staff_permission_required("messaging.sync_messagetemplate")
def template_sync(request):
    """Pull the templates of every active number (or the one chosen) from the provider now,
    as the hourly schedule does."""
    channels = channels_active().order_by("name")
    chosen = request.POST.get("channel", "")
    if chosen:
        channels = channels.filter(pk=int(chosen)) if chosen.isdigit() else channels.none()
    synced = 0
    for channel in channels:
        result = templates_sync(channel=channel)
        level = messages.ERROR if result.errors else messages.SUCCESS
        messages.add_message(request, level, f"{channel.name}: {result.summary()}.")
        synced += 1
    if not synced:
        messages.error(request, "No active number to sync.")
    return redirect("messaging:template-list")


# --- The template builder (README "Template builder") -----------------------------------------

SUBMIT = "messaging.submit_messagetemplate"
STAFF = TemplateEventSource.STAFF


def _builder(request, template: MessageTemplate | None = None) -> TemplateBuilder:
    return TemplateBuilder(
        data=request.POST if request.method == "POST" else None,
        template=template,
        channels=channels_active().order_by("name"),
        opt_out_label=(settings.MARKETING_OPT_OUT_BUTTONS or ["Stop promotions"])[0],
    )


def _builder_page(request, builder: TemplateBuilder, template=None, *, status: int = 200):
    return render(
        request,
        "messaging/templates/builder.html",
        {
            "builder": builder,
            "form": builder.form,
            "buttons": builder.buttons,
            "template": template,
            "can_submit": request.user.has_perm(SUBMIT),
        },
        status=status,
    )


def _submitted(request, template: MessageTemplate):
    """Submit a draft and say how it went; the template page shows the rest."""
    try:
        template = template_submit(template=template, actor=request.user, source=STAFF)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{template.name} was submitted to Meta: it is {template.status} until Meta "
            "approves or rejects it.",
        )
    return redirect("messaging:template-detail", pk=template.pk)


@staff_permission_required("messaging.add_messagetemplate")
def template_new(request):
    """The builder for a new template: saved as a draft, or saved and submitted."""
    builder = _builder(request)
    if request.method == "POST" and builder.is_valid():
        definition = builder.definition()
        try:
            template = template_create(created_by=request.user, source=STAFF, **definition)
        except TemplateInvalid as exc:
            builder.add_rule_errors(exc.details)
        except DomainError as exc:
            builder.form.add_error(None, exc.message)
        else:
            if "submit" in request.POST and request.user.has_perm(SUBMIT):
                return _submitted(request, template)
            messages.success(request, f"Draft {template.name} saved; submit it when ready.")
            return redirect("messaging:template-detail", pk=template.pk)
    return _builder_page(request, builder, status=422 if request.method == "POST" else 200)


@staff_permission_required("messaging.change_messagetemplate")
def template_edit(request, pk):
    """Change a draft, or edit a submitted template, which goes back to Meta for review
    (that needs the submit permission too)."""
    template = get_object_or_404(template_list(), pk=pk)
    if template.at_provider and template.status not in EDITABLE_AT_PROVIDER:
        messages.error(
            request,
            f"{template.name} is {template.status}: Meta accepts edits of approved, rejected "
            "or paused templates only.",
        )
        return redirect("messaging:template-detail", pk=template.pk)
    if template.at_provider and not request.user.has_perm(SUBMIT):
        raise PermissionDenied
    builder = _builder(request, template)
    if request.method == "POST" and builder.is_valid():
        changes = builder.definition()
        changes.pop("channel", None)
        try:
            template = template_update(
                template=template, changes=changes, actor=request.user, source=STAFF
            )
        except TemplateInvalid as exc:
            builder.add_rule_errors(exc.details)
        except DomainError as exc:
            builder.form.add_error(None, exc.message)
        else:
            if template.at_provider:
                messages.success(request, f"The edit of {template.name} was submitted to Meta.")
            elif "submit" in request.POST and request.user.has_perm(SUBMIT):
                return _submitted(request, template)
            else:
                messages.success(request, f"Draft {template.name} saved.")
            return redirect("messaging:template-detail", pk=template.pk)
    return _builder_page(
        request, builder, template, status=422 if request.method == "POST" else 200
    )


@require_GET
@staff_permission_required("messaging.view_messagetemplate")
def template_detail(request, pk):
    """One template: the preview, its status at Meta and why, and its history."""
    template = get_object_or_404(template_list(), pk=pk)
    user = request.user
    return render(
        request,
        "messaging/templates/detail.html",
        {
            "t": template,
            "status_label": _label(TemplateStatus, template.status),
            "preview": template_render(template, template_example_content(template)),
            "events": template_events(template),
            "can_edit": user.has_perm("messaging.change_messagetemplate")
            and (
                template.status == TemplateStatus.DRAFT
                or (template.status in EDITABLE_AT_PROVIDER and user.has_perm(SUBMIT))
            ),
            "can_submit": template.status == TemplateStatus.DRAFT and user.has_perm(SUBMIT),
            "can_delete": template.status != TemplateStatus.DELETED
            and user.has_perm("messaging.delete_messagetemplate"),
        },
    )


@require_POST
@staff_permission_required(SUBMIT)
def template_submit_view(request, pk):
    return _submitted(request, get_object_or_404(template_list(), pk=pk))


@require_POST
@staff_permission_required("messaging.delete_messagetemplate")
def template_delete_view(request, pk):
    """Delete a draft here, or a submitted template at Meta (kept here as DELETED)."""
    template = get_object_or_404(template_list(), pk=pk)
    try:
        kept = template_delete(template=template, actor=request.user, source=STAFF)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("messaging:template-detail", pk=template.pk)
    if kept is None:
        messages.success(request, f"Draft {template.name} deleted.")
        return redirect("messaging:template-list")
    messages.success(request, f"{template.name} [{template.language}] was deleted at Meta.")
    return redirect("messaging:template-detail", pk=template.pk)
