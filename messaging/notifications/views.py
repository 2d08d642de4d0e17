"""Staff pages for transactional notifications: the log, resend, a contact's preferences."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from crm.selectors import contact_list
from messaging.notifications.models import NotificationPreferenceSource
from messaging.notifications.names import notification_type_code
from messaging.notifications.selectors import (
    STATUS_CHOICES,
    notification_list,
    notification_preference_history,
    notification_preferences,
    notification_search,
    notification_type_list,
    notifications_with_status,
)
from messaging.notifications.services import (
    RESENDABLE,
    notification_preference_set,
    notification_resend,
)


@require_GET
@staff_permission_required("messaging.view_notification")
def notification_index(request):
    notifications = notification_list()
    status = request.GET.get("status", "")
    if status in STATUS_CHOICES:
        notifications = notifications_with_status(notifications, status)
    event_type = request.GET.get("event_type", "")
    if event_type:
        notifications = notifications.filter(event_type__code=notification_type_code(event_type))
    query = request.GET.get("q", "").strip()
    notifications = notification_search(notifications, query)
    page = Paginator(notifications, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/notifications/list.html",
        {
            "page": page, "statuses": STATUS_CHOICES, "status": status, "q": query,
            "event_types": notification_type_list(), "event_type": event_type,
            "resendable": RESENDABLE,
            "can_resend": request.user.has_perm("messaging.resend_notification"),
            "can_see_preferences": request.user.has_perm(
                "messaging.view_notificationpreference"
            ),
        },
    )  # fmt: skip


@require_POST
@staff_permission_required("messaging.resend_notification", "messaging.view_notification")
def notification_resend_view(request, pk):
    notification = get_object_or_404(notification_list(), pk=pk)
    try:
        new = notification_resend(notification=notification, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if new.refusal_code:
            messages.warning(request, f"Attempt {new.attempt} was refused: {new.refusal_reason}")
        else:
            messages.success(request, f"Resent as attempt {new.attempt}.")
    query = urlencode({"q": notification.reference_id})
    return redirect(f"{reverse('messaging:notification-list')}?{query}")


@staff_permission_required("crm.view_contact", "messaging.view_notificationpreference")
def contact_notification_preferences(request, pk):
    contact = get_object_or_404(contact_list(), pk=pk)
    preferences = notification_preferences(contact)
    if request.method == "POST":
        if not request.user.has_perm("messaging.change_notificationpreference"):
            raise PermissionDenied
        receives = set(request.POST.getlist("receives"))
        note = request.POST.get("note", "").strip()[:500]
        changed = 0
        for preference in preferences:
            event_type = preference["event_type"]
            changed += notification_preference_set(
                contact=contact, event_type=event_type,
                opted_out=str(event_type.pk) not in receives,
                source=NotificationPreferenceSource.STAFF, actor=request.user, note=note,
            )  # fmt: skip
        messages.success(request, f"{changed} preference(s) changed." if changed else "No change.")
        return redirect("messaging:contact-notification-preferences", pk=pk)
    return render(
        request,
        "messaging/notifications/preferences.html",
        {
            "contact": contact,
            "preferences": preferences,
            "history": notification_preference_history(contact),
            "can_change": request.user.has_perm("messaging.change_notificationpreference"),
        },
    )
