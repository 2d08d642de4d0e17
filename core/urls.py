from django.urls import path

from core import audit_views, views

urlpatterns = [
    path("", views.staff_home, name="home"),
    path("audit/", audit_views.audit_list, name="audit"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
]
