from urllib.parse import urlencode

from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views import defaults
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from core.health import health_report
from core.logging import request_id_var
from core.mfa.services import ENROL, SESSION_KEY, VERIFY
from core.permissions import staff_permission_required


@never_cache
@require_GET
def healthz(request):
    """Machine-readable health for load balancers and monitors: 503 when anything is down."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


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


@require_GET
@staff_permission_required("core.access_staff")
def staff_home(request):
    return render(request, "staff/home.html", {"report": health_report()})


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse(
            {"error": {"code": "not_found", "message": "Not found.", "details": {}}}, status=404
        )
    return defaults.page_not_found(request, exception)


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
