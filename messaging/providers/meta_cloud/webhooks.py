"""Cloud API webhooks: signature check and payload -> neutral events (WHATSAPP.md 2.4, 2.5).

The parser walks every entry and every change, keeps each item's raw JSON, and never raises
on fields or types it does not know: Meta adds both without notice, and a webhook we reject is
a webhook Meta keeps retrying for days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from ..base import (
    InboundMessage,
    MessageDeletion,
    MessageEdit,
    NumberHealthUpdate,
    StatusUpdate,
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
    UnhandledChange,
    UserPreference,
    WebhookError,
    WebhookEvent,
    header_value,
    normalise_errors,
    normalise_timestamp,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


def signature_for(app_secret: str, raw_body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends for these exact bytes."""
    digest = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(app_secret: str, headers: Mapping[str, str], raw_body: bytes) -> bool:
    """Constant-time check of `X-Hub-Signature-256` over the raw request body."""
    if not app_secret:
        logger.error("webhook signature cannot be checked: no app secret configured")
        return False
    received = header_value(headers, SIGNATURE_HEADER)
    if not received or not isinstance(raw_body, bytes | bytearray):
        return False
    expected = signature_for(app_secret, bytes(raw_body))
    return hmac.compare_digest(expected.encode(), received.strip().lower().encode())


def subscription_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """The `hub.challenge` to echo when Meta's subscription handshake (a GET) carries our
    verify token, else None. The GET has no signature: the token is its only credential."""
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge") or ""
    if not verify_token or mode != "subscribe":
        return None
    return challenge if hmac.compare_digest(token.encode(), verify_token.encode()) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def parse_webhook(payload: Mapping[str, Any]) -> list[WebhookEvent]:
    events: list[WebhookEvent] = []
    if not isinstance(payload, Mapping):
        return events
    for entry in _list(payload.get("entry")):
        if not isinstance(entry, dict):
            continue
        waba_id = _str_or_none(entry.get("id"))
        entry_time = normalise_timestamp(entry.get("time"))
        for change in _list(entry.get("changes")):
            if not isinstance(change, dict):
                continue
            field = str(change.get("field") or "")
            value = change.get("value")
            try:
                events.extend(_parse_change(field, value, waba_id, entry_time))
            except Exception:  # a parser bug must not lose the rest of the batch
                logger.exception("could not parse webhook change field=%s", field)
                events.append(UnhandledChange(field=field, waba_id=waba_id, value=value))
    return events


def _template_key(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": str(value.get("message_template_name") or ""),
        "language": _str_or_none(value.get("message_template_language")),
        "external_id": _str_or_none(value.get("message_template_id")),
    }


def _template_status(
    value: Mapping[str, Any], waba_id: str | None, at: dt.datetime | None
) -> TemplateStatusUpdate:
    detail = {
        key: value[key]
        for key in ("rejection_info", "disable_info", "other_info", "title", "description")
        if isinstance(value.get(key), dict | str) and value.get(key)
    }
    return TemplateStatusUpdate(
        **_template_key(value),
        status=str(value.get("event") or "").upper(),
        reason=_str_or_none(value.get("reason")),
        category=_str_or_none(value.get("message_template_category")),
        waba_id=waba_id,
        timestamp=at,
        detail=detail,
        raw=value,
    )


def _template_quality(
    value: Mapping[str, Any], waba_id: str | None, at: dt.datetime | None
) -> TemplateQualityUpdate:
    return TemplateQualityUpdate(
        **_template_key(value),
        quality=str(value.get("new_quality_score") or "").upper(),
        previous=_str_or_none(value.get("previous_quality_score")),
        waba_id=waba_id,
        raw=value,
    )


def _template_category(
    value: Mapping[str, Any], waba_id: str | None, at: dt.datetime | None
) -> TemplateCategoryUpdate:
    return TemplateCategoryUpdate(
        **_template_key(value),
        new_category=_str_or_none(value.get("new_category")),
        previous=_str_or_none(value.get("previous_category")),
        correct_category=_str_or_none(value.get("correct_category")),
        waba_id=waba_id,
        raw=value,
    )


_TEMPLATE_PARSERS = {
    "message_template_status_update": _template_status,
    "message_template_quality_update": _template_quality,
    "template_category_update": _template_category,
}


def _parse_change(
    field: str, value: Any, waba_id: str | None, entry_time: dt.datetime | None = None
) -> list[WebhookEvent]:
    value = _dict(value)
    if field in _HEALTH_PARSERS:
        update = _HEALTH_PARSERS[field](value, waba_id, entry_time)
        return [update or UnhandledChange(field=field, waba_id=waba_id, value=value)]
    if field == "messages":
        return _parse_messages_value(value, waba_id)
    if field == "user_preferences":
        return _parse_user_preferences(value, waba_id)
    if field in _TEMPLATE_PARSERS:
        return [_TEMPLATE_PARSERS[field](value, waba_id, entry_time)]
    return [UnhandledChange(field=field, waba_id=waba_id, value=value)]


# A user's change to a message they sent earlier arrives as a message of its own that names
# the original: `edit` and `revoke` in the Cloud API bodies pywa records; the other spellings
# are accepted as the same thing. Both apply to the original, never stored beside it.
# `voice` is a voice note (courier's fixtures): an audio message whose content says so.
LEGACY_TYPES = {"voice": "audio"}
EDIT_TYPES = frozenset({"edit", "edited", "message_edit", "message_edited"})
DELETION_TYPES = frozenset({"revoke", "revoked", "delete", "deleted", "message_deleted"})


def _contacts(value: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for c in _list(value.get("contacts")) if isinstance(c, dict)]


def _sender_contact(
    contacts: list[dict[str, Any]], wa_id: str | None, bsuid: str | None
) -> dict[str, Any]:
    """The `contacts[]` entry that describes this sender, or {}.

    An entry is the sender's when an identifier both carry is equal and none differs. Real
    bodies pair an item with an entry of another user (pywa's edit fixture: `from` one number,
    the entry another number with a BSUID); borrowing that entry's BSUID or name would give the
    message to the wrong contact, so an entry that does not name the sender is never used.
    """
    for contact in contacts:
        entry_wa_id = _str_or_none(contact.get("wa_id"))
        entry_bsuid = _str_or_none(contact.get("user_id"))
        if (wa_id and entry_wa_id and entry_wa_id != wa_id) or (
            bsuid and entry_bsuid and entry_bsuid != bsuid
        ):
            continue
        if (wa_id and entry_wa_id == wa_id) or (bsuid and entry_bsuid == bsuid):
            return contact
    return {}


def _parse_messages_value(value: dict[str, Any], waba_id: str | None) -> list[WebhookEvent]:
    events: list[WebhookEvent] = []
    metadata = _dict(value.get("metadata"))
    channel_key = _str_or_none(metadata.get("phone_number_id"))
    contacts = _contacts(value)

    for message in _list(value.get("messages")):
        if not isinstance(message, dict):
            continue
        from_wa_id = _str_or_none(message.get("from"))
        from_bsuid = _str_or_none(message.get("from_user_id") or message.get("user_id"))
        contact = _sender_contact(contacts, from_wa_id, from_bsuid)
        from_wa_id = from_wa_id or _str_or_none(contact.get("wa_id"))
        from_bsuid = from_bsuid or _str_or_none(contact.get("user_id"))
        kind = str(message.get("type") or "unknown")
        content = _message_content(kind, message)
        if kind in LEGACY_TYPES:  # the On-Premises API's names, still in the wild
            kind, content = LEGACY_TYPES[kind], {**content, kind: True}
        context = _dict(message.get("context"))
        inbound = InboundMessage(
            channel_key=channel_key,
            wamid=str(message.get("id") or ""),
            from_wa_id=from_wa_id,
            from_bsuid=from_bsuid,
            profile_name=_str_or_none(_dict(contact.get("profile")).get("name")),
            timestamp=normalise_timestamp(message.get("timestamp")),
            type=kind,
            content=content,
            context_wamid=_str_or_none(context.get("id")),
            context_from=_str_or_none(context.get("from")),
            errors=normalise_errors(message.get("errors")),
            waba_id=waba_id,
            raw=message,
        )
        if kind in EDIT_TYPES:
            events.append(_edit(inbound, message))
        elif kind in DELETION_TYPES:
            events.append(
                MessageDeletion(
                    channel_key=channel_key,
                    wamid=inbound.wamid,
                    original_wamid=_original_wamid(_dict(message.get(kind)), context),
                    from_wa_id=from_wa_id,
                    from_bsuid=from_bsuid,
                    timestamp=inbound.timestamp,
                    waba_id=waba_id,
                    raw=message,
                )
            )
        else:
            events.append(inbound)

    for status in _list(value.get("statuses")):
        if not isinstance(status, dict):
            continue
        events.append(
            StatusUpdate(
                channel_key=channel_key,
                wamid=str(status.get("id") or ""),
                status=str(status.get("status") or "").lower(),
                timestamp=normalise_timestamp(status.get("timestamp")),
                recipient_id=_str_or_none(status.get("recipient_id")),
                recipient_bsuid=_str_or_none(status.get("recipient_user_id")),
                callback_data=_str_or_none(status.get("biz_opaque_callback_data")),
                conversation=_dict(status.get("conversation")),
                pricing=_dict(status.get("pricing")),
                errors=normalise_errors(status.get("errors")),
                waba_id=waba_id,
                raw=status,
            )
        )

    errors = normalise_errors(value.get("errors"))
    if errors:
        events.append(
            WebhookError(channel_key=channel_key, errors=errors, waba_id=waba_id, raw=value)
        )
    return events


def _message_content(kind: str, message: dict[str, Any]) -> dict[str, Any]:
    """The object named after the type, as sent; lists (contacts) are wrapped in a dict."""
    value = message.get(kind)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return {kind: value}
    if value is not None:
        return {"value": value}
    return {}


def _original_wamid(change: dict[str, Any], context: dict[str, Any]) -> str:
    for key in ("original_message_id", "original_id", "message_id", "id"):
        if change.get(key):
            return str(change[key])
    return str(context.get("id") or "")


def _edit(inbound: InboundMessage, message: dict[str, Any]) -> MessageEdit:
    """An edit: the new version is the message nested in it (`edit.message`), read like any
    inbound message of its type."""
    change = _dict(message.get(inbound.type)) or _dict(message.get("edit"))
    new = _dict(change.get("message")) or change
    kind = str(new.get("type") or "unknown")
    context = _dict(new.get("context"))
    return MessageEdit(
        channel_key=inbound.channel_key,
        original_wamid=_original_wamid(change, _dict(message.get("context"))),
        message=dataclasses.replace(
            inbound,
            type=kind,
            content=_message_content(kind, new),
            context_wamid=_str_or_none(context.get("id")) or inbound.context_wamid,
            errors=normalise_errors(new.get("errors")) or inbound.errors,
        ),
        waba_id=inbound.waba_id,
    )


def _parse_user_preferences(value: dict[str, Any], waba_id: str | None) -> list[WebhookEvent]:
    channel_key = _str_or_none(_dict(value.get("metadata")).get("phone_number_id"))
    contacts = _contacts(value)
    events: list[WebhookEvent] = []
    for pref in _list(value.get("user_preferences")):
        if not isinstance(pref, dict):
            continue
        wa_id = _str_or_none(pref.get("wa_id"))
        bsuid = _str_or_none(pref.get("user_id"))
        contact = _sender_contact(contacts, wa_id, bsuid)
        events.append(
            UserPreference(
                channel_key=channel_key,
                wa_id=wa_id or _str_or_none(contact.get("wa_id")),
                bsuid=bsuid or _str_or_none(contact.get("user_id")),
                category=str(pref.get("category") or ""),
                value=str(pref.get("value") or "").lower(),
                timestamp=normalise_timestamp(pref.get("timestamp")),
                detail=_str_or_none(pref.get("detail")),
                waba_id=waba_id,
                raw=pref,
            )
        )
    return events


# --- Number and account health -----------------------------------------------------------------
# phone_number_quality_update names the number by its display number (no metadata);
# account_update and business_capability_update concern the whole WABA (entry.id). Events
# that say nothing of a number's health (partner changes, pricing tiers, ...) stay unhandled.

# The newest shape first: Meta replaces current_limit with the portfolio-wide limit.
_TIER_KEYS = (
    "max_daily_conversations_per_business",
    "max_daily_conversation_per_phone",
    "messaging_limit_tier",
    "current_limit",
)
_BAN_STATES = {
    "DISABLE": ("BANNED", None),
    "REINSTATE": ("CONNECTED", ("BANNED", "RESTRICTED")),
    "SCHEDULE_FOR_DISABLE": (None, None),
}


def _first(value: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if value.get(key) not in (None, ""):
            return value[key]
    return None


def _when(timestamp: Any) -> str:
    moment = normalise_timestamp(timestamp)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else str(timestamp)


def _parse_quality_update(
    value: dict[str, Any], waba_id: str | None, entry_time: dt.datetime | None
) -> NumberHealthUpdate | None:
    event = str(value.get("event") or "").upper() or None
    tier = _first(value, _TIER_KEYS)
    status, replaces = None, None
    if event == "FLAGGED":
        status = "FLAGGED"
    elif event == "UNFLAGGED":
        status, replaces = "CONNECTED", ("FLAGGED",)
    detail = event or ""
    if value.get("old_limit") and tier is not None:
        detail += f": {value['old_limit']} to {tier}"
    metadata = _dict(value.get("metadata"))
    return NumberHealthUpdate(
        field="phone_number_quality_update",
        event=event,
        waba_id=waba_id,
        channel_key=_str_or_none(metadata.get("phone_number_id")),
        display_phone_number=_str_or_none(
            value.get("display_phone_number") or metadata.get("display_phone_number")
        ),
        tier=tier,
        status=status,
        status_replaces=replaces,
        detail=detail or None,
        timestamp=entry_time,
        raw=value,
    )


def _parse_account_update(
    value: dict[str, Any], waba_id: str | None, entry_time: dt.datetime | None
) -> NumberHealthUpdate | None:
    event = str(value.get("event") or "").upper() or None
    status, replaces, detail = None, None, event or ""
    ban = _dict(value.get("ban_info"))
    if event == "ACCOUNT_RESTRICTION":
        status = "RESTRICTED"
        parts = [
            f"{r.get('restriction_type')} until {_when(r.get('expiration'))}"
            if r.get("expiration")
            else str(r.get("restriction_type"))
            for r in _list(value.get("restriction_info"))
            if isinstance(r, dict) and r.get("restriction_type")
        ]
        detail = f"{event}: {'; '.join(parts)}" if parts else detail
    elif ban.get("waba_ban_state"):  # DISABLED_UPDATE, and any event carrying a ban
        state = str(ban["waba_ban_state"]).upper()
        status, replaces = _BAN_STATES.get(state, (None, None))
        detail = f"{event or 'BAN'}: {state}"
        if ban.get("waba_ban_date"):
            detail += f" ({ban['waba_ban_date']})"
    elif event == "ACCOUNT_DELETED":
        status = "DELETED"
    elif event == "ACCOUNT_VIOLATION":
        violation = _dict(value.get("violation_info")).get("violation_type")
        detail = f"{event}: {violation}" if violation else detail
    else:
        return None
    return NumberHealthUpdate(
        field="account_update",
        event=event,
        waba_id=waba_id,
        account_wide=True,
        status=status,
        status_replaces=replaces,
        detail=detail or None,
        timestamp=entry_time,
        raw=value,
    )


def _parse_capability_update(
    value: dict[str, Any], waba_id: str | None, entry_time: dt.datetime | None
) -> NumberHealthUpdate | None:
    tier = _first(value, _TIER_KEYS)
    if tier is None:  # only the number of phone numbers allowed changed
        return None
    return NumberHealthUpdate(
        field="business_capability_update",
        event=None,
        waba_id=waba_id,
        account_wide=True,
        tier=tier,
        timestamp=entry_time,
        raw=value,
    )


_HEALTH_PARSERS = {
    "phone_number_quality_update": _parse_quality_update,
    "account_update": _parse_account_update,
    "business_capability_update": _parse_capability_update,
}
