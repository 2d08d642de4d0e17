"""Public tracked links, mounted at /l/."""

from django.urls import path

from messaging.links.views import tracked_link_redirect

urlpatterns = [
    path("<slug:token>", tracked_link_redirect, name="tracked-link"),
]
