"""Transactional notifications: an event from another system becomes one template message.

`notification_send` renders the template mapped to the event type (found by name and
language at send time, since templates arrive by sync) and queues it in the PRIORITY lane.
It runs at most once per (event type, reference): the `Notification` row is inserted first
under the unique (event_type, reference_id, attempt) constraint, in the same transaction as
the message, so a concurrent duplicate waits on the index and then returns the first result.
A refusal (type disabled, contact opted out of the type, no consent, template missing,
variables missing...) is recorded too, with its reason, and the same reference returns it.

A resend is explicit: a new attempt (attempt + 1) with a new message, allowed only when the
latest attempt failed or was refused.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError, InvalidTransition
from crm.models import Contact
from messaging.channels.models import Channel
from messaging.channels.selectors import ChannelUnknown, channel_for
from messaging.hooks_out.models import HookEvent
from messaging.hooks_out.services import event_emit, event_wanted, events_emit
from messaging.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationPreferenceEvent,
    NotificationPreferenceSource,
    NotificationType,
)
from messaging.notifications.names import notification_type_code
from messaging.sending.events import StatusEmitted, status_followers_register
from messaging.sending.models import Lane
from messaging.sending.send import (
    SendRefused,
    message_send,
    template_content_build,
    template_find,
)

logger = logging.getLogger(__name__)

SOURCES = ("variable", "field", "constant")
CONTACT_FIELDS = ("name", "profile_name", "phone", "language", "wa_id")
RESENDABLE = {"failed", "refused", "cancelled"}
VALUE_MAX = 1000


class NotificationTypeUnknown(DomainError):
    code = "notification_type_unknown"
    status_code = 422


# --- Rendering ---------------------------------------------------------------------------------


def notification_type_get(code: str) -> NotificationType:
    """The event type a request names, by its code or its seed 004 name (`names`)."""
    event_type = NotificationType.objects.filter(code=notification_type_code(code)).first()
    if event_type is None:
        raise NotificationTypeUnknown(
            f"Unknown event type {code!r}.",
            details={"event_types": list(NotificationType.objects.values_list("code", flat=True))},
        )
    return event_type


def _value(item: Any, variables: dict[str, Any], contact: Contact) -> str | None:
    """The text for one mapped parameter, or None when a required variable is missing."""
    if not isinstance(item, dict):
        return None
    source, key = item.get("source"), str(item.get("value", ""))
    if source == "constant":
        return key
    if source == "field":
        value = getattr(contact, key, "") if key in CONTACT_FIELDS else ""
        if key == "name":
            value = value or contact.profile_name
        return str(value or item.get("default") or "")
    value = variables.get(key)
    if value in (None, ""):
        value = item.get("default")
    return None if value in (None, "") else str(value)[:VALUE_MAX]


def notification_required_variables(event_type: NotificationType) -> list[str]:
    """Variables the mapping needs from callers (those without a default)."""
    mapping = event_type.parameter_mapping or {}
    items = [*(mapping.get("header") or []), *(mapping.get("body") or [])]
    items += list((mapping.get("buttons") or {}).values())
    items += list((mapping.get("button_payloads") or {}).values())
    if isinstance(mapping.get("header_media_link"), dict):
        items.append(mapping["header_media_link"])
    names = []
    for item in items:
        required = isinstance(item, dict) and item.get("source") == "variable"
        if required and "default" not in item and item.get("value") not in (None, "", *names):
            names.append(item["value"])
    return names


def notification_content(
    *, event_type: NotificationType, template, contact: Contact, variables: dict[str, Any]
) -> dict[str, Any]:
    """The template object for this event; SendRefused when variables are missing."""
    mapping = event_type.parameter_mapping or {}
    named = (template.parameter_format or "") == "named"
    declared = template.parameters or {}
    missing: list[str] = []

    def resolve(item) -> str:
        value = _value(item, variables, contact)
        if value is None:
            name = item.get("value") if isinstance(item, dict) else str(item)
            if name not in missing:
                missing.append(name)
            return ""
        return value

    def values(part: str):
        items = mapping.get(part) or []
        if named:
            names = declared.get(part) or []
            return {
                item.get("name") or names[i]: resolve(item)
                for i, item in enumerate(items)
                if isinstance(item, dict) and (item.get("name") or i < len(names))
            }
        return [resolve(item) for item in items]

    body, header = values("body"), values("header")
    buttons = {str(i): resolve(item) for i, item in (mapping.get("buttons") or {}).items()}
    payloads = {str(i): resolve(item) for i, item in (mapping.get("button_payloads") or {}).items()}
    media = mapping.get("header_media_link")
    media_link = resolve(media) if isinstance(media, dict) else (media or None)
    if missing:
        raise SendRefused(
            f"Variables missing for {event_type.code}: {', '.join(missing)}.",
            code="notification_variables_missing",
            details={"missing": missing},
        )
    return template_content_build(
        template=template,
        body=body or None,
        header=header or None,
        header_media_link=media_link or None,
        button_url_values=buttons or None,
        button_payloads=payloads or None,
    )


def notification_channel(event_type: NotificationType, channel: Channel | None = None) -> Channel:
    channel = channel or event_type.channel
    if channel is not None:
        return channel
    try:
        return channel_for()
    except ChannelUnknown as exc:
        # A refusal, so that it is recorded against the reference like every other one.
        raise SendRefused(exc.message, code=exc.code) from exc


def notification_opted_out(*, contact: Contact, event_type: NotificationType) -> bool:
    return NotificationPreference.objects.filter(
        contact=contact, event_type=event_type, opted_out=True
    ).exists()


# --- Sending -----------------------------------------------------------------------------------


def _first(event_type: NotificationType, reference_id: str) -> Notification | None:
    return (
        Notification.objects.select_related("event_type", "contact", "message")
        .filter(event_type=event_type, reference_id=reference_id, attempt=1)
        .first()
    )


def _attempt(notification: Notification, *, channel: Channel | None, sent_by=None) -> None:
    """Render and queue the message of one attempt, or record why not. Inside a transaction."""
    event_type, contact = notification.event_type, notification.contact
    try:
        if not event_type.enabled:
            raise SendRefused(
                f"Notifications of type {event_type.code} are disabled.",
                code="notification_type_disabled",
            )
        if notification_opted_out(contact=contact, event_type=event_type):
            raise SendRefused(
                f"The contact opted out of {event_type.name} notifications.",
                code="notification_opted_out",
            )
        if not event_type.template_name:
            raise SendRefused(
                f"No template is mapped to {event_type.code}.", code="template_unknown"
            )
        channel = notification_channel(event_type, channel)
        template = template_find(
            channel=channel,
            content={
                "name": event_type.template_name,
                "language": {"code": event_type.template_language},
            },
        )
        content = notification_content(
            event_type=event_type, template=template, contact=contact,
            variables=notification.variables or {},
        )  # fmt: skip
        message = message_send(
            channel=channel, contact=contact, type="template", content=content,
            lane=Lane.PRIORITY, sent_by=sent_by, is_automated=True,
        )  # fmt: skip
    except SendRefused as exc:
        notification.refusal_code = exc.code
        notification.refusal_reason = exc.message[:500]
        notification.refusal_details = exc.details or {}
        notification.save(update_fields=["refusal_code", "refusal_reason", "refusal_details"])
        logger.info(
            "notification %s %s refused: %s", event_type.code, notification.reference_id, exc.code
        )
        notification_status_emit(notification, status="refused")
        return
    notification.message = message
    notification.save(update_fields=["message"])
    notification_status_emit(notification, status="queued")


def notification_send(
    *,
    event_type: str | NotificationType,
    contact: Contact,
    variables: dict[str, Any],
    reference_id: str,
    channel: Channel | None = None,
    requested_by=None,
) -> Notification:
    """Send the event's template to `contact`, at most once per (event type, reference).

    Returns the Notification; `notification.replayed` is True when this (type, reference)
    was already handled (the first result is returned, nothing is sent). A refusal is not
    raised: the notification comes back with `refusal_code` and `refusal_reason` set (use
    `notification_refusal` to turn it into SendRefused). Raises NotificationTypeUnknown for
    an event type that does not exist.
    """
    if isinstance(event_type, str):
        event_type = notification_type_get(event_type)
    reference_id = str(reference_id).strip()
    if not reference_id:
        raise DomainError("reference_id is required.", code="invalid")
    existing = _first(event_type, reference_id)
    if existing is not None:
        existing.replayed = True
        return existing
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                event_type=event_type, contact=contact, reference_id=reference_id, attempt=1,
                variables=variables or {}, requested_by=requested_by, created_at=timezone.now(),
            )  # fmt: skip
            _attempt(notification, channel=channel, sent_by=requested_by)
    except IntegrityError:
        existing = _first(event_type, reference_id)
        if existing is None:
            raise
        existing.replayed = True
        return existing
    notification.replayed = False
    return notification


def notification_refusal(notification: Notification) -> SendRefused | None:
    """The refusal of a refused notification as an error (for the API), else None."""
    if not notification.refusal_code:
        return None
    return SendRefused(
        notification.refusal_reason or "The notification was refused.",
        code=notification.refusal_code,
        details={
            **(notification.refusal_details or {}),
            "notification": notification.pk,
            "attempt": notification.attempt,
        },
    )


def notification_resend(*, notification: Notification, actor=None) -> Notification:
    """A new attempt with a new message, when the latest attempt failed or was refused."""
    with transaction.atomic():
        latest = (
            Notification.objects.select_for_update()
            .filter(
                event_type_id=notification.event_type_id, reference_id=notification.reference_id
            )
            .order_by("-attempt")
            .first()
        )
        latest = Notification.objects.select_related("event_type", "contact", "message").get(
            pk=latest.pk
        )
        status = latest.status
        if status not in RESENDABLE:
            raise InvalidTransition(
                f"Only a failed or refused notification can be resent; attempt "
                f"{latest.attempt} is {status}.",
                details={"attempt": latest.attempt, "status": status},
            )
        try:
            with transaction.atomic():
                new = Notification.objects.create(
                    event_type=latest.event_type, contact=latest.contact,
                    reference_id=latest.reference_id, attempt=latest.attempt + 1,
                    variables=latest.variables, requested_by=actor,
                )  # fmt: skip
        except IntegrityError:
            raise Conflict("This notification was just resent.", code="already_resent") from None
        _attempt(new, channel=latest.message.channel if latest.message else None, sent_by=actor)
    new.replayed = False
    return new


# --- Preferences -------------------------------------------------------------------------------


def notification_preference_set(
    *,
    contact: Contact,
    event_type: NotificationType,
    opted_out: bool,
    source: str = NotificationPreferenceSource.STAFF,
    actor=None,
    note: str = "",
) -> bool:
    """Opt `contact` out of (or back in to) one event type; audited. True when it changed."""
    with transaction.atomic():
        preference, _ = NotificationPreference.objects.select_for_update().get_or_create(
            contact=contact, event_type=event_type, defaults={"opted_out": False}
        )
        if preference.opted_out == opted_out:
            return False
        preference.opted_out = opted_out
        preference.updated_at = timezone.now()
        preference.save(update_fields=["opted_out", "updated_at"])
        NotificationPreferenceEvent.objects.create(
            contact=contact, event_type=event_type, opted_out=opted_out, source=source,
            actor=actor, note=note[:500],
        )  # fmt: skip
    return True


# --- Event webhooks ------------------------------------------------------------------------------


def _notification_data(
    notification: Notification, *, status: str, message_uuid: str | None, at, error=None
) -> dict[str, Any]:
    return {
        "notification": {
            "id": notification.pk,
            "event_type": notification.event_type.code,
            "reference_id": notification.reference_id,
            "attempt": notification.attempt,
            "status": status,
            "message_id": message_uuid,
            "timestamp": at.isoformat() if at else None,
            "contact_id": notification.contact_id,
            "refusal": (
                {"code": notification.refusal_code, "reason": notification.refusal_reason}
                if notification.refusal_code
                else None
            ),
            "error": error,
        }
    }


def notification_status_emit(notification: Notification, *, status: str) -> None:
    """`notification.status` for a new attempt (queued or refused), in its transaction."""
    if not event_wanted(HookEvent.NOTIFICATION_STATUS):
        return
    message_uuid = str(notification.message.uuid) if notification.message_id else None
    event_emit(
        event_type=HookEvent.NOTIFICATION_STATUS,
        data=_notification_data(
            notification, status=status, message_uuid=message_uuid, at=timezone.now()
        ),
        ordering_key=message_uuid or f"notification:{notification.pk}",
    )


def notification_statuses_follow(statuses: list[StatusEmitted]) -> None:
    """A notification's status is its message's: each `message.status` emitted for a
    notification's message is also a `notification.status` (registered at ready())."""
    message_ids = {s.message_id for s in statuses}
    notifications = Notification.objects.filter(message_id__in=list(message_ids)).select_related(
        "event_type"
    )
    items = []
    for notification in notifications:
        for emitted in statuses:
            if emitted.message_id != notification.message_id:
                continue
            data = _notification_data(
                notification, status=emitted.status, message_uuid=emitted.message_uuid,
                at=emitted.at, error=emitted.error,
            )  # fmt: skip
            items.append((data, emitted.message_uuid))
    if items:
        events_emit(event_type=HookEvent.NOTIFICATION_STATUS, items=items)


def notification_events_register() -> None:
    status_followers_register(HookEvent.NOTIFICATION_STATUS, notification_statuses_follow)
