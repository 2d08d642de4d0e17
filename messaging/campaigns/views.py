"""Staff pages for campaigns: list, create/edit, mapping, pre-flight, live progress, actions."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
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
    campaign_preflight,
    campaign_progress,
    campaign_sample_contact,
    campaign_transitions,
)


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
    context = {
        "campaign": campaign,
        "progress": campaign_progress(campaign),
        "transitions": campaign_transitions(campaign),
        "can_launch": request.user.has_perm("messaging.launch_campaign"),
        "can_edit": request.user.has_perm("messaging.change_campaign") and editable,
        "schedule_form": ScheduleForm(tz_name=campaign.schedule_timezone),
    }
    if editable:
        preflight = campaign_preflight(campaign)
        context["preflight"] = preflight
        context["excluded"] = [
            (EXCLUSION_LABELS.get(reason, reason), n) for reason, n in preflight.excluded.items()
        ]
    return render(request, "messaging/campaigns/detail.html", context)


@require_GET
@staff_permission_required("messaging.view_campaign")
def campaign_progress_partial(request, pk):
    campaign = get_object_or_404(campaign_list(), pk=pk)
    return render(
        request,
        "messaging/campaigns/_progress.html",
        {"campaign": campaign, "progress": campaign_progress(campaign)},
    )


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
            svc.campaign_launch(campaign=campaign, launched_by=user)
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
