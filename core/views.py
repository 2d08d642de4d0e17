from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import health_report
from core.permissions import staff_permission_required


@never_cache
@require_GET
def healthz(request):
    """Machine-readable health for load balancers and monitors: 503 when anything is down."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@staff_permission_required("core.access_staff")
def staff_home(request):
    return render(request, "staff/home.html", {"report": health_report()})
