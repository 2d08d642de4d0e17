from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views import defaults
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from core.health import health_report
from core.home import home_build
from core.logging import request_id_var
from core.metrics import metrics_access_refusal, metrics_render
from core.mfa.services import ENROL, SESSION_KEY, VERIFY
from core.navigation import nav_for_user
from core.permissions import StaffPermissionDenied, staff_permission_required
from core.roles import ADMIN, ROLES


@never_cache
@require_GET
def healthz(request):
    """Machine-readable health for load balancers and monitors: 503 when anything is down."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@csrf_exempt  # GET only (anything else 405, not CSRF's 403); its credential is a token
@never_cache
@require_GET
def metrics(request):
    """Prometheus metrics (README "Metrics and error reports"), for a scraper holding
    METRICS_TOKEN or calling from METRICS_ALLOWED_NETWORKS; 404 when neither is configured.

    Touches no session and no user (TwoFactorMiddleware leaves the path alone), so a scrape
    costs the collectors' few queries and nothing else.
    """
    refusal = metrics_access_refusal(request)
    if refusal is not None:
        text = "not found" if refusal == 404 else "forbidden"
        return HttpResponse(text, status=refusal, content_type="text/plain; charset=utf-8")
    body, content_type = metrics_render(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)


class LoginView(auth_views.LoginView):
    """The password step. A session that owes a second factor goes on to the code (or to
    setting two-factor sign-in up), then to where it was headed."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_success_url(self):
        url = super().get_success_url()
        state = self.request.session.get(SESSION_KEY)
        if state in (VERIFY, ENROL):
            name = "mfa-verify" if state == VERIFY else "mfa-setup"
            return f"{reverse(name)}?{urlencode({'next': url})}"
        return url


@never_cache
@require_GET
@staff_permission_required("core.access_staff")
def staff_home(request):
    """What each of the user's roles needs first (`core.home`)."""
    return render(request, "staff/home.html", {"sections": home_build(request.user)})


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse(
            {"error": {"code": "not_found", "message": "Not found.", "details": {}}}, status=404
        )
    return defaults.page_not_found(request, exception)


def permission_denied(request, exception):
    """403: the API answers in its envelope; pages explain what is missing and whom to ask.

    A refusal from `staff_permission_required` names the permissions the user lacks, so the
    page can say which roles hold them; any other refusal gets the same page in general words.
    """
    if _is_api(request):
        body = {"code": "permission_denied", "message": "Permission denied.", "details": {}}
        return JsonResponse({"error": body}, status=403)
    codes = exception.permissions if isinstance(exception, StaffPermissionDenied) else ()
    user = request.user
    context = {
        "missing": _permission_names(codes),
        "roles_that_may": [r.name for r in ROLES if codes and all(r.allows(c) for c in codes)],
        "admins": _admins_to_ask(user) if user.is_authenticated else [],
        "staff_nav": nav_for_user(user),
        "staff_roles": sorted(g.name for g in user.groups.all()) if user.is_authenticated else [],
    }
    return render(request, "403.html", context, status=403)


def _permission_names(codes: tuple[str, ...]) -> list[str]:
    """What each `app_label.codename` is called ("Can add auto-reply rule"), in one query."""
    if not codes:
        return []
    wanted = Q()
    for code in codes:
        app_label, _, codename = code.partition(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    names = {
        f"{p.content_type.app_label}.{p.codename}": p.name
        for p in Permission.objects.filter(wanted).select_related("content_type")
    }
    return [names.get(code, code) for code in codes]


def _admins_to_ask(user, limit: int = 3) -> list[str]:
    """A few people who can give roles: active Admins (or superusers), not the user."""
    admins = (
        get_user_model()
        .objects.filter(Q(groups__name=ADMIN) | Q(is_superuser=True), is_active=True)
        .exclude(pk=user.pk)
        .distinct()
        .order_by("username")[:limit]
    )
    return [a.get_full_name() or a.get_username() for a in admins]


def server_error(request):
    if _is_api(request):
        body = {
            "code": "server_error",
            "message": "Something went wrong on our side; the request id helps us find it.",
            "details": {"request_id": request_id_var.get()},
        }
        return JsonResponse({"error": body}, status=500)
    return defaults.server_error(request)


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links (the admin, Swagger UI, a PDF):
    send them to the static icon instead of a 404."""
    return HttpResponseRedirect(static("favicon.ico"))
