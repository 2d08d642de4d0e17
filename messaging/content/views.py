"""Staff pages for content: list, create/edit, detail with history and figures, the review
queue, workflow actions and the manual distribution trigger."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from messaging.content import services as svc
from messaging.content.distribution import content_distribute, content_reach_today
from messaging.content.forms import ContentItemForm, ReviewForm
from messaging.content.models import ContentState
from messaging.content.selectors import (
    content_item_list,
    content_problems,
    content_review_queue,
    content_stats,
)

# action -> (permission, service call)
ACTIONS = {
    "submit": "messaging.change_contentitem",
    "withdraw": "messaging.change_contentitem",
    "schedule": "messaging.change_contentitem",
    "unschedule": "messaging.change_contentitem",
    "approve": "messaging.review_contentitem",
    "reject": "messaging.review_contentitem",
}


@require_GET
@staff_permission_required("messaging.view_contentitem")
def content_index(request):
    items = content_item_list()
    state = request.GET.get("state", "")
    if state in ContentState.values:
        items = items.filter(state=state)
    query = request.GET.get("q", "").strip()
    if query:
        items = items.filter(title__icontains=query)
    page = Paginator(items, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/content/list.html",
        {
            "page": page, "states": ContentState.choices, "state": state, "q": query,
            "today": svc.content_today(),
        },
    )  # fmt: skip


@staff_permission_required("messaging.add_contentitem")
def content_create(request):
    form = ContentItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        item = svc.content_create(created_by=request.user, **form.service_fields())
        messages.success(request, "Draft saved. Submit it for review when it is ready.")
        return redirect("messaging:content-detail", pk=item.pk)
    return render(request, "messaging/content/form.html", {"form": form, "item": None})


@staff_permission_required("messaging.change_contentitem")
def content_edit(request, pk):
    item = get_object_or_404(content_item_list(), pk=pk)
    if item.state not in svc.EDITABLE:
        messages.error(request, f"A {item.get_state_display().lower()} item cannot be edited.")
        return redirect("messaging:content-detail", pk=pk)
    form = ContentItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        try:
            svc.content_update(item=item, actor=request.user, **form.service_fields())
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Saved.")
            return redirect("messaging:content-detail", pk=pk)
    return render(request, "messaging/content/form.html", {"form": form, "item": item})


@require_GET
@staff_permission_required("messaging.view_contentitem")
def content_detail(request, pk):
    item = get_object_or_404(content_item_list(), pk=pk)
    user = request.user
    context = {
        "item": item,
        "transitions": item.transitions.select_related("actor"),
        "revisions": item.revisions.all(),
        "stats": content_stats(item),
        "can_edit": user.has_perm("messaging.change_contentitem") and item.state in svc.EDITABLE,
        "can_review": user.has_perm("messaging.review_contentitem")
        and item.state == ContentState.PENDING_REVIEW,
        "self_review": svc.content_self_review_reason(item, user),
        "review_form": ReviewForm(),
    }
    if item.state in (ContentState.DRAFT, ContentState.REJECTED, ContentState.PENDING_REVIEW):
        context["problems"] = content_problems(item)
    return render(request, "messaging/content/detail.html", context)


@require_GET
@staff_permission_required("messaging.review_contentitem")
def content_review(request):
    items = list(content_review_queue())
    edited = svc.content_items_edited_by(request.user, [item.pk for item in items])
    for item in items:
        item.problems = content_problems(item)
        item.is_own = request.user.pk in {item.created_by_id, item.submitted_by_id} or (
            item.pk in edited
        )
    return render(
        request, "messaging/content/review.html", {"items": items, "review_form": ReviewForm()}
    )


def _back(request, pk):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("messaging:content-detail", pk=pk)


@require_POST
@staff_permission_required("messaging.view_contentitem")
def content_action(request, pk, action):
    permission = ACTIONS.get(action)
    if permission is None or not request.user.has_perm(permission):
        raise PermissionDenied
    item = get_object_or_404(content_item_list(), pk=pk)
    user = request.user
    note = request.POST.get("note", "").strip()
    try:
        if action == "submit":
            svc.content_submit(item=item, actor=user)
            messages.success(request, "Submitted for review.")
        elif action == "withdraw":
            svc.content_withdraw(item=item, actor=user)
            messages.success(request, "Withdrawn from review.")
        elif action == "schedule":
            svc.content_schedule(item=item, actor=user)
            messages.success(request, f"Scheduled for {date_format(item.send_on)}.")
        elif action == "unschedule":
            svc.content_unschedule(item=item, actor=user)
        elif action == "approve":
            svc.content_approve(item=item, reviewer=user, note=note)
            messages.success(request, f"Approved: {item.title}.")
        elif action == "reject":
            svc.content_reject(item=item, reviewer=user, note=note)
            messages.success(request, f"Rejected: {item.title}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return _back(request, pk)


@require_http_methods(["GET", "POST"])
@staff_permission_required("messaging.distribute_contentitem")
def content_distribute_now(request):
    """Today's due items and who each would reach (GET), then, confirmed, the distribution
    (POST). An item nobody would receive stays approved, to go out later."""
    if request.method == "GET":
        reaches = content_reach_today()
        return render(
            request,
            "messaging/content/distribute.html",
            {
                "reaches": reaches,
                "today": svc.content_today(),
                "total": sum(r.will_receive for r in reaches),
            },
        )
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation to distribute.")
        return redirect(reverse("messaging:content-distribute"))
    result = content_distribute(actor=request.user)
    done = [i for i in result.items if not i.skipped]
    if done:
        messages.success(
            request,
            f"{len(done)} item(s) distributed to {result.sent} advisor(s) for "
            f"{date_format(result.day)}.",
        )
    for item in result.items:
        if item.skipped:
            messages.warning(request, f"Not distributed: {item.title}: {item.skipped}.")
    if not result.items:
        messages.info(request, f"Nothing approved is due on {date_format(result.day)}.")
    return redirect(reverse("messaging:content-list"))
