"""Staff pages of crm, mounted under /staff/ with the `crm` namespace."""

from django.urls import path

from crm.views import advisors, contacts, imports, profile, segments

urlpatterns = [
    path("contacts/", contacts.contact_list, name="contact_list"),
    path("contacts/new/", contacts.contact_new, name="contact_new"),
    path("contacts/export.csv", contacts.contact_export, name="contact_export"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/consent/", contacts.contact_consent, name="contact_consent"),
    path("contacts/<int:pk>/block/", contacts.contact_block_view, name="contact_block"),
    path("contacts/<int:pk>/merge/", contacts.contact_merge_view, name="contact_merge"),
    path("contacts/<int:pk>/erase/", contacts.contact_erase_view, name="contact_erase"),
    path(
        "contacts/<int:pk>/export.json",
        contacts.contact_data_export_view,
        name="contact_data_export",
    ),
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_new, name="segment_new"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", segments.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", segments.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/export.csv", segments.segment_export, name="segment_export"),
    path("advisors/", advisors.advisor_list, name="advisor_list"),
    path("advisors/new/", advisors.advisor_new, name="advisor_new"),
    path("advisors/<int:pk>/", advisors.advisor_detail, name="advisor_detail"),
    path("advisors/<int:pk>/edit/", advisors.advisor_edit, name="advisor_edit"),
    path("advisors/<int:pk>/disable/", advisors.advisor_disable_view, name="advisor_disable"),
    path("advisors/<int:pk>/enable/", advisors.advisor_enable_view, name="advisor_enable"),
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new", imports.import_new, name="import_new"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:pk>/errors.csv", imports.import_errors_csv, name="import_errors"),
    path("imports/<int:pk>/resume/", imports.import_resume, name="import_resume"),
    path("imports/<int:pk>/run/", imports.import_run_for_real, name="import_run"),
    path("profile/", profile.staff_profile, name="staff_profile"),
]
