"""Staff pages for campaigns: list, create/edit, mapping, pre-flight, live progress, actions."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from messaging.campaigns import services as svc
from messaging.campaigns.forms import CampaignForm, ParameterMappingForm, ScheduleForm
from messaging.campaigns.models import CampaignState
from messaging.campaigns.selectors import (
    EXCLUSION_LABELS,
    campaign_is_editable,
    campaign_list,
    campaign_messages_resendable,
    campaign_preflight,
    campaign_progress,
    campaign_sample_contact,
    campaign_transitions,
    campaign_unconfirmed,
)
from messaging.sending.unconfirmed import messages_resend


@require_GET
@staff_permission_required("messaging.view_campaign")
def campaign_index(request):
    campaigns = campaign_list()
    state = request.GET.get("state", "")
    if state in CampaignState.values:
        campaigns = campaigns.filter(state=state)
    query = request.GET.get("q", "").strip()
    if query:
        campaigns = campaigns.filter(name__icontains=query)
    page = Paginator(campaigns, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/campaigns/list.html",
        {"page": page, "states": CampaignState.choices, "state": state, "q": query},
    )


def _refused(request, form, exc: DomainError) -> None:
    """Show a service's refusal on the fields it names, or above the form."""
    fields = [name for name in exc.details if name in form.fields]
    for name in fields:
        form.add_error(name, exc.message)
    if not fields:
        messages.error(request, exc.message)


@staff_permission_required("messaging.add_campaign")
def campaign_create(request):
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = svc.campaign_create(created_by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _refused(request, form, exc)
        else:
            messages.success(request, "Draft saved. Now map the template's parameters.")
            return redirect("messaging:campaign-mapping", pk=campaign.pk)
    return render(request, "messaging/campaigns/form.html", {"form": form, "campaign": None})


@staff_permission_required("messaging.change_campaign")
def campaign_edit(request, pk):
    campaign = get_object_or_404(campaign_list(), pk=pk)
    if not campaign_is_editable(campaign):
        messages.error(request, svc.CampaignNotEditable(campaign.state).message)
        return redirect("messaging:campaign-detail", pk=pk)
    form = CampaignForm(request.POST or None, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            svc.campaign_update(campaign=campaign, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            _refused(request, form, exc)
        else:
            messages.success(request, "Campaign saved.")
            return redirect("messaging:campaign-mapping", pk=pk)
    return render(request, "messaging/campaigns/form.html", {"form": form, "campaign": campaign})


@staff_permission_required("messaging.change_campaign")
def campaign_mapping(request, pk):
    campaign = get_object_or_404(campaign_list(), pk=pk)
    if not campaign_is_editable(campaign):
        return redirect("messaging:campaign-detail", pk=pk)
    form = ParameterMappingForm(
        request.POST or None, template=campaign.template, mapping=campaign.parameter_mapping
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            svc.campaign_update(
                campaign=campaign, actor=request.user, parameter_mapping=form.mapping()
            )
        except DomainError as exc:
            _refused(request, form, exc)
            if not form.errors:
                return redirect("messaging:campaign-detail", pk=pk)
            status = 422  # a refused field (a private media link): shown on the form
        else:
            messages.success(request, "Parameters mapped.")
            return redirect("messaging:campaign-detail", pk=pk)
    preview = None
    if campaign.parameter_mapping:
        sample = campaign_sample_contact(campaign)
        if sample:
            preview = svc.campaign_content(campaign, sample)
    return render(
        request,
        "messaging/campaigns/mapping.html",
        {"campaign": campaign, "form": form, "preview": preview},
        status=status,
    )


@require_GET
@staff_permission_required("messaging.view_campaign")
def campaign_detail(request, pk):
    campaign = get_object_or_404(campaign_list(), pk=pk)
    editable = campaign_is_editable(campaign)
    progress = campaign_progress(campaign)
    context = {
        "campaign": campaign,
        "progress": progress,
        "transitions": campaign_transitions(campaign),
        "can_launch": request.user.has_perm("messaging.launch_campaign"),
        "can_edit": request.user.has_perm("messaging.change_campaign") and editable,
        "schedule_form": ScheduleForm(tz_name=campaign.schedule_timezone),
    }
    if progress["unconfirmed"]:
        context.update(
            unconfirmed=campaign_unconfirmed(campaign),
            resendable=campaign_messages_resendable(campaign).count(),
            can_resend=request.user.has_perm("messaging.resend_message"),
            settle_hours=settings.SEND_UNKNOWN_SETTLE_HOURS,
        )
    if editable:
        preflight = campaign_preflight(campaign)
        context["preflight"] = preflight
        context["excluded"] = [
            (EXCLUSION_LABELS.get(reason, reason), n) for reason, n in preflight.excluded.items()
        ]
    return render(request, "messaging/campaigns/detail.html", context)


@never_cache
@require_GET
@staff_permission_required("messaging.view_campaign")
def campaign_progress_partial(request, pk):
    """htmx partial, polled by the campaign page while the campaign can change by itself:
    progress, the actions its state allows, and its state for the heading (out of band)."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    return render(
        request,
        "messaging/campaigns/_live.html",
        {
            "campaign": campaign,
            "progress": campaign_progress(campaign),
            "can_launch": request.user.has_perm("messaging.launch_campaign"),
            "oob": True,
        },
    )


@require_POST
@staff_permission_required("messaging.resend_message", "messaging.view_campaign")
def campaign_unconfirmed_resend(request, pk):
    """Send the ticked unconfirmed messages (or, confirmed, all of them) again: a person's
    decision, each a new message linked to the old one."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    chosen = campaign_messages_resendable(campaign)
    if request.POST.get("all") == "yes":
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the confirmation to send them all again.")
            return redirect("messaging:campaign-detail", pk=pk)
    else:
        ids = [int(i) for i in request.POST.getlist("message") if i.isdigit()]
        if not ids:
            messages.error(request, "Tick the messages to send again.")
            return redirect("messaging:campaign-detail", pk=pk)
        chosen = chosen.filter(pk__in=ids)
    report = messages_resend(messages=chosen.order_by("pk"), actor=request.user)
    if report.resent:
        messages.success(request, f"{len(report.resent)} message(s) sent again.")
    if report.already:
        messages.warning(request, f"{report.already} had already been sent again.")
    for message, reason in report.refused[:5]:
        messages.error(request, f"{message.contact}: {reason}")
    if len(report.refused) > 5:
        messages.error(request, f"... and {len(report.refused) - 5} more refused.")
    if not (report.resent or report.already or report.refused):
        messages.warning(request, "Nothing to send again: those messages were settled or resent.")
    return redirect("messaging:campaign-detail", pk=pk)


@require_POST
@staff_permission_required("messaging.launch_campaign")
def campaign_action(request, pk, action):
    campaign = get_object_or_404(campaign_list(), pk=pk)
    user = request.user
    try:
        if action == "launch":
            if request.POST.get("confirm") != "yes":
                messages.error(request, "Tick the confirmation to launch.")
                return redirect("messaging:campaign-detail", pk=pk)
            spread = request.POST.get("spread_over_budget") == "yes"
            campaign = svc.campaign_launch(
                campaign=campaign, launched_by=user, spread_over_budget=spread or None
            )
            if campaign.budget_paused:
                messages.warning(request, f"Campaign launched and waiting: {campaign.pause_reason}")
            else:
                messages.success(request, "Campaign launched.")
        elif action == "schedule":
            form = ScheduleForm(request.POST, tz_name=campaign.schedule_timezone)
            if not form.is_valid():
                messages.error(request, "Give a valid date and time.")
                return redirect("messaging:campaign-detail", pk=pk)
            svc.campaign_schedule(
                campaign=campaign,
                scheduled_at=form.cleaned_data["scheduled_at"],
                scheduled_by=user,
            )
            messages.success(request, "Campaign scheduled.")
        elif action == "unschedule":
            svc.campaign_unschedule(campaign=campaign, actor=user)
        elif action == "pause":
            svc.campaign_pause(campaign=campaign, actor=user, reason=request.POST.get("reason", ""))
            messages.success(request, "Campaign paused.")
        elif action == "resume":
            svc.campaign_resume(campaign=campaign, actor=user)
            messages.success(request, "Campaign resumed.")
        elif action == "cancel":
            svc.campaign_cancel(
                campaign=campaign, actor=user, reason=request.POST.get("reason", "")
            )
            messages.success(request, "Campaign cancelled.")
        else:
            raise PermissionDenied
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("messaging:campaign-detail", pk=pk)
