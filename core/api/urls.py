from django.urls import path

from core.api.audit import AuditEventList
from core.api.views import MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("audit-events/", AuditEventList.as_view(), name="audit-events"),
]
