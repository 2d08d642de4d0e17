"""Staff pages of event webhooks (/staff/integrations/webhooks/): subscriptions, their secret
(shown once, in the answer to a create or a rotation, never again), the delivery log and
replays. Admin only (core.roles: the subscriptions are operations tables)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from messaging.hooks_out.forms import (
    DeliveryFilterForm,
    ReplayRangeForm,
    SubscriptionEditForm,
    SubscriptionForm,
)
from messaging.hooks_out.models import HookEvent, WebhookDelivery
from messaging.hooks_out.selectors import (
    delivery_log,
    subscription_list,
    subscriptions_with_figures,
)
from messaging.hooks_out.services import (
    deliveries_replay,
    subscription_create,
    subscription_delete,
    subscription_rotate_secret,
    subscription_update,
)

VIEW = "messaging.view_webhooksubscription"
CHANGE = "messaging.change_webhooksubscription"
DELIVERIES_PER_PAGE = 50


def _form_errors(form, exc: DomainError) -> None:
    details = exc.details if isinstance(exc.details, dict) else {}
    placed = False
    for field, message in details.items():
        if field in form.fields:
            form.add_error(field, str(message))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _secret_page(request, subscription, secret: str, *, created: bool):
    return render(
        request,
        "messaging/hooks_out/secret.html",
        {"subscription": subscription, "secret": secret, "created": created},
    )


@require_GET
@staff_permission_required(VIEW)
def subscription_index(request):
    return render(
        request,
        "messaging/hooks_out/list.html",
        {
            "subscriptions": subscriptions_with_figures(),
            "disable_after": f"{settings.WEBHOOK_OUT_DISABLE_AFTER_HOURS:g}",
        },
    )


@staff_permission_required(VIEW, "messaging.add_webhooksubscription")
def subscription_new(request):
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = subscription_create(**form.cleaned_data, created_by=request.user)
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            return _secret_page(request, subscription, subscription.secret, created=True)
    return render(request, "messaging/hooks_out/form.html", {"form": form, "subscription": None})


@staff_permission_required(VIEW, CHANGE)
def subscription_edit(request, pk):
    subscription = get_object_or_404(subscription_list(), pk=pk)
    initial = {
        "name": subscription.name, "url": subscription.url, "events": subscription.events,
        "is_active": subscription.is_active,
    }  # fmt: skip
    form = SubscriptionEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            subscription_update(subscription=subscription, **form.cleaned_data)
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Saved {subscription.name}.")
            return redirect("messaging:webhook-detail", pk=subscription.pk)
    return render(
        request, "messaging/hooks_out/form.html", {"form": form, "subscription": subscription}
    )


@require_POST
@staff_permission_required(VIEW, "messaging.delete_webhooksubscription")
def subscription_delete_view(request, pk):
    subscription = get_object_or_404(subscription_list(), pk=pk)
    name = subscription.name
    subscription_delete(subscription=subscription)
    messages.success(request, f"Deleted {name} and its delivery log.")
    return redirect("messaging:webhook-list")


@require_POST
@staff_permission_required(VIEW, CHANGE)
def subscription_rotate_secret_view(request, pk):
    subscription = get_object_or_404(subscription_list(), pk=pk)
    secret = subscription_rotate_secret(subscription=subscription, actor=request.user)
    return _secret_page(request, subscription, secret, created=False)


@require_GET
@staff_permission_required(VIEW)
def subscription_detail(request, pk):
    subscription = get_object_or_404(subscriptions_with_figures(), pk=pk)
    filters = DeliveryFilterForm(request.GET or None)
    values = filters.cleaned_data if filters.is_valid() else {}
    deliveries = delivery_log(
        subscription,
        state=values.get("state") or "",
        event_type=values.get("event_type") or "",
        event_id=str(values["event_id"]) if values.get("event_id") else "",
    )
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "messaging/hooks_out/detail.html",
        {
            "subscription": subscription,
            "events": dict(HookEvent.choices),
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "replay_form": ReplayRangeForm(),
            "can_change": request.user.has_perm(CHANGE),
            "can_delete": request.user.has_perm("messaging.delete_webhooksubscription"),
        },
    )


@require_POST
@staff_permission_required(VIEW, CHANGE)
def subscription_replay(request, pk):
    subscription = get_object_or_404(subscription_list(), pk=pk)
    delivery_id = request.POST.get("delivery", "").strip()
    try:
        if delivery_id:
            delivery = get_object_or_404(
                WebhookDelivery.objects.filter(subscription=subscription),
                pk=int(delivery_id) if delivery_id.isdigit() else 0,
            )
            queued = deliveries_replay(
                subscription=subscription, delivery=delivery, actor=request.user
            )
        else:
            form = ReplayRangeForm(request.POST)
            if not form.is_valid():
                problems = "; ".join(
                    f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
                )
                messages.error(request, f"Replay not queued: {problems}")
                return redirect("messaging:webhook-detail", pk=subscription.pk)
            queued = deliveries_replay(
                subscription=subscription, since=form.cleaned_data["since"],
                until=form.cleaned_data["until"], actor=request.user,
            )  # fmt: skip
    except DomainError as exc:
        messages.error(request, f"Replay not queued: {exc.message}")
    else:
        messages.success(request, f"{queued} event(s) queued again.")
    return redirect("messaging:webhook-detail", pk=subscription.pk)
