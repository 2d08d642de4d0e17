"""The two-factor pages under /accounts/2fa/: set up, verify at sign-in, recovery codes,
turn off. Thin: core.mfa.services does the work."""

from __future__ import annotations

import math
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.mfa import services
from core.mfa.middleware import session_mfa_state
from core.mfa.services import ENROL, OK, SESSION_KEY, VERIFY


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _refused(verification) -> str:
    if verification.locked_until:
        wait = max(1, math.ceil((verification.locked_until - timezone.now()).total_seconds()))
        return f"Too many wrong codes. Try again in {wait} second{'s' if wait != 1 else ''}."
    return "That code is not right. Check the time on your phone, or use a recovery code."


def _qr_data_uri(url: str) -> str:
    """The otpauth URL as an SVG data URI: drawn here, nothing is fetched from elsewhere
    (the CSP allows `data:` images)."""
    return segno.make(url, error="m").svg_data_uri(scale=5, dark="#111", light="#fff")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def mfa_setup(request):
    state = session_mfa_state(request)
    if state == VERIFY:
        return redirect(_with_next("mfa-verify", _next_url(request)))
    if services.mfa_enrolled(request.user):
        messages.info(request, "Two-factor sign-in is already on.")
        return redirect("mfa-overview")
    device = services.mfa_pending_device(user=request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.mfa_confirm(
            user=request.user, device=device, code=form.cleaned_data["code"]
        )
        if codes is not None:
            device.refresh_from_db()
            services.mfa_session_verified(request, device)
            return render(
                request,
                "registration/two_factor_codes.html",
                {"codes": codes, "next": _next_url(request), "first_time": True},
            )
        form.add_error("code", _refused(services.Verification()))
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            "qr": _qr_data_uri(device.config_url),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "required": state == ENROL,
            "next": _next_url(request),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def mfa_verify(request):
    """The step after the password: an authenticator code or a recovery code."""
    state = session_mfa_state(request)
    if state == OK:
        return redirect(_next_url(request))
    if not services.mfa_enrolled(request.user):  # reset by an operator meanwhile
        request.session[SESSION_KEY] = state = services.mfa_state(request.user)
        if state == ENROL:
            return redirect(_with_next("mfa-setup", _next_url(request)))
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        verification = services.mfa_verify(user=request.user, code=form.cleaned_data["code"])
        if verification.ok:
            services.mfa_session_verified(request, verification.device)
            if services.mfa_recovery_codes_left(request.user) <= 2:
                messages.warning(request, "Few recovery codes left: make new ones.")
            return redirect(_next_url(request))
        form.add_error("code", _refused(verification))
    return render(
        request, "registration/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


def _verified_or_redirect(request):
    state = session_mfa_state(request)
    if state == VERIFY:
        return redirect(_with_next("mfa-verify", request.get_full_path()))
    if state == ENROL:
        return redirect(_with_next("mfa-setup", request.get_full_path()))
    return None


@never_cache
@login_required
@require_http_methods(["GET"])
def mfa_overview(request):
    if (response := _verified_or_redirect(request)) is not None:
        return response
    enrolled = services.mfa_enrolled(request.user)
    return render(
        request,
        "registration/two_factor.html",
        {
            "enrolled": enrolled,
            "required": services.mfa_required(request.user),
            "codes_left": services.mfa_recovery_codes_left(request.user) if enrolled else 0,
            "form": CodeForm(),
        },
    )


@never_cache
@login_required
@require_POST
def mfa_recovery_codes(request):
    """New recovery codes, shown once; the old ones stop working."""
    if (response := _verified_or_redirect(request)) is not None:
        return response
    if not services.mfa_enrolled(request.user):
        return redirect("mfa-overview")
    codes = services.mfa_recovery_codes_regenerate(user=request.user)
    return render(
        request,
        "registration/two_factor_codes.html",
        {"codes": codes, "next": reverse("mfa-overview"), "first_time": False},
    )


@never_cache
@login_required
@require_POST
def mfa_turn_off(request):
    """Turning it off needs a fresh code, so an unattended signed-in browser cannot."""
    if (response := _verified_or_redirect(request)) is not None:
        return response
    form = CodeForm(request.POST)
    if not services.mfa_enrolled(request.user):
        return redirect("mfa-overview")
    if form.is_valid():
        verification = services.mfa_verify(user=request.user, code=form.cleaned_data["code"])
        if verification.ok:
            services.mfa_disable(user=request.user)
            request.session[SESSION_KEY] = services.mfa_state(request.user)
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("mfa-overview")
        messages.error(request, _refused(verification))
    else:
        messages.error(request, "Enter a code to turn two-factor sign-in off.")
    return redirect("mfa-overview")
