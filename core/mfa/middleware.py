"""Keeps a session that owes two-factor verification (or enrolment) out of everything staff.

Placed after django-otp's OTPMiddleware. A signed-in session whose state (noted at sign-in, see
core.mfa.services) is not OK is sent to the verification or enrolment page from any page but
the sign-in pages themselves and the public endpoints; a session call to the API gets a 403
in the API's error envelope. A request carrying an API token is served as the token's user
only: the unverified session behind it is dropped, so the session cannot ride along.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from core.mfa.services import ENROL, OK, SESSION_KEY, mfa_state

# Public or part of signing in: webhooks, tracked links, health, metrics (their own token or
# network), static files, /accounts/.
OPEN_PREFIXES = (
    "/accounts/", "/static/", "/media/", "/healthz", "/metrics", "/webhooks/", "/l/",
)  # fmt: skip
TOKEN_SCHEMES = ("token ", "bearer ")


def session_mfa_state(request) -> str:
    state = request.session.get(SESSION_KEY)
    if state is None:  # a session from before two-factor sign-in existed
        state = mfa_state(request.user)
        request.session[SESSION_KEY] = state
    return state


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(OPEN_PREFIXES) or not request.user.is_authenticated:
            return self.get_response(request)
        state = session_mfa_state(request)
        if state == OK:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            auth = request.headers.get("Authorization", "").lower()
            if auth.startswith(TOKEN_SCHEMES):
                request.user = AnonymousUser()  # only the token may authenticate this call
                return self.get_response(request)
            return JsonResponse(
                {
                    "error": {
                        "code": "two_factor_required",
                        "message": "Finish two-factor sign-in in the browser, or use an API token.",
                        "details": {},
                    }
                },
                status=403,
            )
        target = reverse("mfa-setup" if state == ENROL else "mfa-verify")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
