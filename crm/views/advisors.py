from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from crm import selectors
from crm.forms import AdvisorCreateForm, AdvisorDisableForm, AdvisorEditForm, AdvisorFilterForm
from crm.models import Advisor
from crm.services import advisor_create, advisor_disable, advisor_enable, advisor_update
from crm.views.common import form_error_from, paginate, query_without_page


@require_GET
@staff_permission_required("crm.view_advisor")
def advisor_list(request):
    form = AdvisorFilterForm(request.GET or None, regions=selectors.advisor_regions())
    page = paginate(request, selectors.advisor_search(**form.search_kwargs()))
    return render(
        request,
        "crm/advisors/list.html",
        {"form": form, "page": page, "query": query_without_page(request)},
    )


@require_GET
@staff_permission_required("crm.view_advisor")
def advisor_detail(request, pk: int):
    try:
        advisor = selectors.advisor_detail(pk)
    except Advisor.DoesNotExist:
        raise Http404("No such advisor.") from None
    return render(
        request,
        "crm/advisors/detail.html",
        {
            "advisor": advisor,
            "received": selectors.advisor_received(advisor),
            "clicked": selectors.advisor_clicked(advisor),
            "counts": selectors.advisor_activity_counts(advisor),
            "disable_form": AdvisorDisableForm(),
        },
    )


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.add_advisor")
def advisor_new(request):
    form = AdvisorCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            advisor = advisor_create(
                phone=data.pop("phone"), name=data.pop("name"), actor=request.user,
                **{k: v for k, v in data.items() if v not in (None, "")},
            )  # fmt: skip
        except DomainError as exc:
            form_error_from(form, exc)
        else:
            messages.success(request, f"{advisor.contact} is now an advisor.")
            return redirect("crm:advisor_detail", pk=advisor.pk)
    return render(request, "crm/advisors/form.html", {"form": form, "advisor": None})


@require_http_methods(["GET", "POST"])
@staff_permission_required("crm.change_advisor")
def advisor_edit(request, pk: int):
    advisor = get_object_or_404(Advisor.objects.select_related("contact"), pk=pk)
    initial = {
        "firm": advisor.firm, "region": advisor.region, "tier": advisor.tier,
        "content_preferences": "; ".join(advisor.content_preferences or []),
        "onboarded_on": advisor.onboarded_on,
    }  # fmt: skip
    form = AdvisorEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            advisor_update(advisor=advisor, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error_from(form, exc)
        else:
            messages.success(request, "Advisor saved.")
            return redirect("crm:advisor_detail", pk=advisor.pk)
    return render(request, "crm/advisors/form.html", {"form": form, "advisor": advisor})


@require_POST
@staff_permission_required("crm.change_advisor")
def advisor_disable_view(request, pk: int):
    advisor = get_object_or_404(Advisor, pk=pk)
    form = AdvisorDisableForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason to disable the advisor.")
    else:
        advisor_disable(advisor=advisor, reason=form.cleaned_data["reason"], actor=request.user)
        messages.success(request, "Advisor disabled: no more content goes to them.")
    return redirect("crm:advisor_detail", pk=pk)


@require_POST
@staff_permission_required("crm.change_advisor")
def advisor_enable_view(request, pk: int):
    advisor = get_object_or_404(Advisor, pk=pk)
    advisor_enable(advisor=advisor, actor=request.user)
    messages.success(request, "Advisor enabled again.")
    return redirect("crm:advisor_detail", pk=pk)
