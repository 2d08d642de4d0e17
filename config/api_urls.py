"""Every `/api/v1/` route, one include per app."""

from django.urls import include, path

urlpatterns = [
    path("", include("core.api.urls")),
    path("", include("crm.api.urls")),
    path("", include("messaging.api_urls")),
    path("", include("analytics.api_urls")),
]
