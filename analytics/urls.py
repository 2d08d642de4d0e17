"""Dashboards, mounted at /staff/analytics/ with the `analytics` namespace."""

from django.urls import path

from analytics import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("today/", views.today_partial, name="today"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("templates/", views.templates, name="templates"),
    path("templates/<int:pk>/", views.template_detail, name="template"),
    path("buttons/", views.buttons, name="buttons"),
    path("page-views/", views.page_views, name="page_views"),
    path("conversations/", views.conversations, name="conversations"),
    path("customers/", views.customers, name="customers"),
    path("revenue/", views.revenue, name="revenue"),
    path("export/<slug:table>/", views.export, name="export"),
]
