"""Two-factor sign-in for staff: TOTP (an authenticator app) with one-time recovery codes.

Built on django-otp: a confirmed `TOTPDevice` is the enrolment, a `StaticDevice` holds the
recovery codes. django-otp throttles each device (1, 2, 4, 8... seconds after successive
failures, OTP_*_THROTTLE_FACTOR), so guessing six digits is out of reach.

Who must use it: every user of a role in STAFF_2FA_REQUIRED_ROLES (a superuser counts as Admin),
and every user who has enrolled, whatever their role. A session that needs it is allowed no
staff page, admin page or session API call until it is verified (core.mfa.middleware); API
tokens are not sessions and are unaffected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.audit import audit_record
from core.models import AuditAction
from core.roles import ADMIN

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"

# The session remembers what this sign-in still owes, so pages cost no query for it.
SESSION_KEY = "parley_2fa"
OK, VERIFY, ENROL = "ok", "verify", "enrol"

_SEPARATORS = re.compile(r"[\s-]+")


def mfa_required(user) -> bool:
    """Whether `user`'s roles require two-factor sign-in (STAFF_2FA_REQUIRED_ROLES)."""
    required = set(settings.STAFF_2FA_REQUIRED_ROLES)
    if not required or not user.is_authenticated:
        return False
    if user.is_superuser and ADMIN in required:
        return True
    return user.groups.filter(name__in=required).exists()


def mfa_enrolled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def mfa_state(user) -> str:
    """What a fresh session of `user` owes: VERIFY (enrolled), ENROL (required, not enrolled)
    or OK."""
    if mfa_enrolled(user):
        return VERIFY
    return ENROL if mfa_required(user) else OK


def mfa_session_start(request, user) -> None:
    """At sign-in (user_logged_in): note what this session owes before any page is served."""
    request.session[SESSION_KEY] = mfa_state(user)


def mfa_session_verified(request, device) -> None:
    otp_login(request, device)
    request.session[SESSION_KEY] = OK
    audit_record(
        AuditAction.MFA_VERIFIED,
        obj=request.user,
        actor=request.user,
        details={"with": "recovery code" if isinstance(device, StaticDevice) else "app"},
    )


def mfa_pending_device(*, user) -> TOTPDevice:
    """The unconfirmed authenticator being set up (one per user, kept across page loads so the
    QR code does not change while someone scans it)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def _clean(code: str) -> str:
    return _SEPARATORS.sub("", code or "").lower()[:32]


def _is_totp(code: str) -> bool:
    return code.isdigit() and len(code) == 6


@dataclass(frozen=True)
class Verification:
    device: object | None = None
    locked_until: datetime | None = None  # throttled: no code is checked until then

    @property
    def ok(self) -> bool:
        return self.device is not None


def _verify_against(devices, code: str) -> Verification:
    locked_until = None
    for device in devices:
        allowed, info = device.verify_is_allowed()
        if not allowed:
            locked_until = (info or {}).get("locked_until")
            continue
        if device.verify_token(code):
            return Verification(device=device)
        allowed, info = device.verify_is_allowed()
        if not allowed:
            locked_until = (info or {}).get("locked_until")
    return Verification(locked_until=locked_until)


def mfa_verify(*, user, code: str) -> Verification:
    """Check a six-digit authenticator code or a recovery code (used up on success).

    Only the device the code's shape belongs to is tried, so a mistyped authenticator code
    does not slow down the recovery codes. Each failure makes that device wait longer before
    the next try (django-otp's throttling); a locked device checks nothing until then.
    """
    code = _clean(code)
    if not code:
        return Verification()
    model = TOTPDevice if _is_totp(code) else StaticDevice
    with transaction.atomic():
        devices = model.objects.select_for_update().filter(user=user, confirmed=True)
        verification = _verify_against(list(devices), code)
        if not verification.ok:
            audit_record(
                AuditAction.MFA_FAILED,
                obj=user,
                actor=user,
                details={"with": "app" if model is TOTPDevice else "recovery code"},
            )
        return verification


def _recovery_codes_issue(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@transaction.atomic
def mfa_confirm(*, user, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the authenticator being set up with a code it shows; return the new recovery
    codes (shown once), or None when the code is wrong."""
    code = _clean(code)
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
    if not _is_totp(code) or not _verify_against([device], code).ok:
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    audit_record(AuditAction.MFA_ENROLLED, obj=user)
    return _recovery_codes_issue(user)


@transaction.atomic
def mfa_recovery_codes_regenerate(*, user) -> list[str]:
    """New recovery codes for an enrolled user; the old ones stop working."""
    audit_record(AuditAction.MFA_RECOVERY_CODES, obj=user)
    return _recovery_codes_issue(user)


def mfa_recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def mfa_disable(*, user) -> int:
    """Remove every device of `user` (their own choice, or an operator's reset after a lost
    phone). Returns how many devices went. A user whose role requires two-factor sign-in is
    sent to enrolment at their next page."""
    devices = [TOTPDevice.objects.filter(user=user), StaticDevice.objects.filter(user=user)]
    removed = sum(queryset.count() for queryset in devices)
    for queryset in devices:
        queryset.delete()
    if removed:
        # The actor is whoever acts: the user turning it off, or the operator resetting it.
        audit_record(AuditAction.MFA_DISABLED, obj=user, details={"devices_removed": removed})
    return removed
