"""Staff pages for campaigns: list, create/edit, the parameter builder with its preview and
test sends, pre-flight, live progress, results with recipients by outcome, actions."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from crm.selectors import attribute_choices, staff_profile_for
from messaging.campaigns import services as svc
from messaging.campaigns.extensions import campaign_results
from messaging.campaigns.forms import CampaignForm, ParameterMappingForm, ScheduleForm
from messaging.campaigns.mapping import mapping_preview
from messaging.campaigns.models import CampaignState
from messaging.campaigns.selectors import (
    EXCLUSION_LABELS,
    campaign_is_editable,
    campaign_list,
    campaign_messages_resendable,
    campaign_preflight,
    campaign_progress,
    campaign_sample_contacts,
    campaign_test_sends,
    campaign_transitions,
    campaign_unconfirmed,
)
from messaging.providers.error_codes import error_code_info
from messaging.sending.policy import exclusion_key
from messaging.sending.unconfirmed import messages_resend

RECIPIENTS_PAGE = 50


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


def _mapping_form(data, campaign) -> ParameterMappingForm:
    return ParameterMappingForm(
        data,
        template=campaign.template,
        mapping=campaign.parameter_mapping,
        attributes=attribute_choices(),
    )


def _previews(campaign, mapping: dict, samples: list[dict]) -> list:
    return [
        mapping_preview(template=campaign.template, mapping=mapping, contact=contact)
        for contact in samples
    ]


def _test_context(request, campaign) -> dict:
    """What the test-send form needs: the user's number and whether they may send."""
    user = request.user
    profile = staff_profile_for(user)
    return {
        "test_number": profile.phone if profile else "",
        "can_test": user.has_perms(TEST_PERMISSIONS) and campaign.template_id is not None,
        "test_sends": campaign_test_sends(campaign),
    }


TEST_PERMISSIONS = ("messaging.change_campaign", "messaging.add_message")


def _test_send(request, campaign, sample: str | None) -> bool:
    """Send a test and say how it went; True when it was queued."""
    try:
        test = svc.campaign_test_send(
            campaign=campaign,
            sent_by=request.user,
            sample_contact_id=int(sample) if sample and sample.isdigit() else None,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(
        request,
        f"Test sent to {test.message.contact.phone or 'your number'}: it is marked as a test "
        "and is not counted in the campaign's figures. Its status shows under Test sends.",
    )
    return True


@staff_permission_required("messaging.change_campaign")
def campaign_mapping(request, pk):
    """The builder: each template variable mapped by picking its source, with a preview for
    real contacts of the audience that follows the form as it changes, and a test send."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    if not campaign_is_editable(campaign):
        return redirect("messaging:campaign-detail", pk=pk)
    if campaign.template is None:
        messages.error(request, "Choose the campaign's template first.")
        return redirect("messaging:campaign-edit", pk=pk)
    form = _mapping_form(request.POST or None, campaign)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                campaign = svc.campaign_update(
                    campaign=campaign, actor=request.user, parameter_mapping=form.mapping()
                )
            except DomainError as exc:
                _refused(request, form, exc)
                if not form.errors:
                    return redirect("messaging:campaign-detail", pk=pk)
                status = 422  # a refused field (a private media link): shown on the form
            else:
                if request.POST.get("then") == "test":
                    _test_send(request, campaign, request.POST.get("sample"))
                    return redirect("messaging:campaign-mapping", pk=pk)
                messages.success(request, "Parameters mapped.")
                return redirect("messaging:campaign-detail", pk=pk)
        else:
            status = 422
    samples = campaign_sample_contacts(campaign)
    mapping = form.mapping_draft() if form.is_bound else campaign.parameter_mapping
    return render(
        request,
        "messaging/campaigns/mapping.html",
        {
            "campaign": campaign,
            "form": form,
            "samples": samples,
            "previews": _previews(campaign, mapping or {}, samples),
            **_test_context(request, campaign),
        },
        status=status,
    )


@never_cache
@require_POST
@staff_permission_required("messaging.change_campaign")
def campaign_mapping_preview(request, pk):
    """htmx partial: the preview for the mapping the builder holds now (saved or not)."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    if campaign.template is None or not campaign_is_editable(campaign):
        return HttpResponse("This campaign's message can no longer change.", status=409)
    form = _mapping_form(request.POST, campaign)
    samples = campaign_sample_contacts(campaign)
    return render(
        request,
        "messaging/campaigns/_preview.html",
        {
            "campaign": campaign,
            "previews": _previews(campaign, form.mapping_draft(), samples),
            "samples": samples,
        },
    )


@require_POST
@staff_permission_required(*TEST_PERMISSIONS)
def campaign_test(request, pk):
    """Send the campaign's message (as saved) to the user's own number, marked as a test."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    _test_send(request, campaign, request.POST.get("sample"))
    return redirect("messaging:campaign-detail", pk=pk)


def _recipients(request, campaign) -> dict:
    """The results' recipients by outcome (`?outcome=failed&page=2`), a page at a time."""
    results = campaign_results()
    outcomes = results.outcomes()
    keys = [o.key for o in outcomes]
    outcome = request.GET.get("outcome", "")
    if outcome not in keys:
        outcome = keys[0]
    page = Paginator(
        results.recipients(campaign, outcome).select_related("contact"), RECIPIENTS_PAGE
    )
    page = page.get_page(request.GET.get("page"))
    rows = []
    for message in page:
        rows.append(
            {
                "message": message,
                "meaning": error_code_info(message.error_code).meaning
                if message.error_code is not None
                else "",
                "refusal": EXCLUSION_LABELS.get(
                    exclusion_key(message.refusal), message.refusal.replace("_", " ")
                )
                if message.refusal
                else "",
            }
        )
    return {
        "outcomes": outcomes,
        "outcome": outcome,
        "recipients": rows,
        "page": page,
        "query": f"outcome={outcome}",
    }


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
        **_test_context(request, campaign),
    }
    if campaign.template_id and editable:
        context["samples"] = campaign_sample_contacts(campaign)
    context["has_results"] = not editable
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
def campaign_results_partial(request, pk):
    """htmx partial, loaded by the campaign page once launched: the results (analytics'
    funnel, failures by code, money) and the recipients by outcome (`?outcome=&page=`).
    Apart from the page because live figures take a few dozen queries."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    context = {"campaign": campaign, **_recipients(request, campaign)}
    if not campaign_is_editable(campaign):
        context["summary"] = campaign_results().summary(campaign)
    return render(request, "messaging/campaigns/_results.html", context)


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
