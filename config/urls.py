from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import views as core_views

admin.site.site_header = "Parley administration"
admin.site.site_title = "Parley admin"
admin.site.index_title = "Administration"

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("accounts/login/", core_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/2fa/", include("core.mfa.urls")),
    path("staff/operations/", include(("analytics.ops.urls", "ops"), namespace="ops")),
    path("staff/analytics/", include(("analytics.urls", "analytics"), namespace="analytics")),
    path("staff/", include(("core.urls", "staff"), namespace="staff")),
    path("staff/", include(("crm.urls", "crm"), namespace="crm")),
    path("staff/", include(("messaging.staff_urls", "messaging"), namespace="messaging")),
    path("admin/", admin.site.urls),
    path("webhooks/", include("messaging.webhooks.urls")),
    path("l/", include(("messaging.links.urls", "links"), namespace="links")),
    path("api/v1/", include(("config.api_urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI sets style attributes from its script: only this page allows inline styles
    # (never inline script), or its layout breaks and the console fills with CSP errors.
    path(
        "api/docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
]

# The API answers in its own error envelope even when no view was reached (an id that does
# not fit the route, an unhandled crash); other pages get Django's templates.
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
