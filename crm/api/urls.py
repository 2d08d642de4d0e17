from django.urls import path
from rest_framework.routers import SimpleRouter

from crm.api import views

router = SimpleRouter()
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("tags", views.TagViewSet, basename="tag")
router.register("attributes", views.AttributeDefinitionViewSet, basename="attribute")
router.register("segments", views.SegmentViewSet, basename="segment")
router.register("advisors", views.AdvisorViewSet, basename="advisor")
router.register("imports", views.ImportJobViewSet, basename="import")

urlpatterns = [
    path(
        "imports/<int:pk>/errors.csv",
        views.ImportJobViewSet.as_view({"get": "errors"}),
        name="import-errors",
    ),
    *router.urls,
]
