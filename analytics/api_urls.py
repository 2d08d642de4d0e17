"""Analytics routes under /api/v1/: conversions and reporting."""

from django.urls import path

from analytics.api import views

urlpatterns = [
    path("conversions/", views.ConversionListCreateView.as_view(), name="conversion-list"),
    path("conversions/<int:pk>/", views.ConversionDetailView.as_view(), name="conversion-detail"),
    path(
        "reporting/messages/status",
        views.MessageStatusReportView.as_view(),
        name="reporting-message-status",
    ),
    path(
        "reporting/campaigns/<int:pk>/summary",
        views.CampaignSummaryView.as_view(),
        name="reporting-campaign-summary",
    ),
    path("reporting/inbound", views.InboundReportView.as_view(), name="reporting-inbound"),
    path("reporting/dashboard", views.DashboardReportView.as_view(), name="reporting-dashboard"),
    path("reporting/page-views/", views.PageViewReportView.as_view(), name="reporting-page-views"),
    # Seed 000's monitoring paths, documented aliases of the reporting endpoints above.
    path("monitoring/inbound", views.MonitoringInboundView.as_view(), name="monitoring-inbound"),
    path(
        "monitoring/dashboard", views.MonitoringDashboardView.as_view(), name="monitoring-dashboard"
    ),
    path("reporting/revenue", views.RevenueReportView.as_view(), name="reporting-revenue"),
    path("reporting/templates/", views.TemplateReportView.as_view(), name="reporting-templates"),
]
