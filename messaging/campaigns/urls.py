"""Staff pages of campaigns (namespace `messaging`)."""

from django.urls import path

from messaging.campaigns import views as campaigns

urlpatterns = [
    path("campaigns/", campaigns.campaign_index, name="campaign-list"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign-create"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/edit/", campaigns.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/mapping/", campaigns.campaign_mapping, name="campaign-mapping"),
    path(
        "campaigns/<int:pk>/mapping/preview/",
        campaigns.campaign_mapping_preview,
        name="campaign-mapping-preview",
    ),
    path("campaigns/<int:pk>/test/", campaigns.campaign_test, name="campaign-test"),
    path(
        "campaigns/<int:pk>/results/", campaigns.campaign_results_partial, name="campaign-results"
    ),
    path(
        "campaigns/<int:pk>/progress/",
        campaigns.campaign_progress_partial,
        name="campaign-progress",
    ),
    path(
        "campaigns/<int:pk>/unconfirmed/resend/",
        campaigns.campaign_unconfirmed_resend,
        name="campaign-unconfirmed-resend",
    ),
    path("campaigns/<int:pk>/<str:action>/", campaigns.campaign_action, name="campaign-action"),
]
