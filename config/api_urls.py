"""Every `/api/v1/` route, one include per app."""

from django.urls import include, path

urlpatterns = [
    path("", include("core.api.urls")),
    path("", include("crm.api.urls")),
    path("", include("messaging.api.urls")),
    path("", include("analytics.api_urls")),
]
