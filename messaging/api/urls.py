from django.urls import path

from messaging.api import views

urlpatterns = [
    path("messages/", views.MessageListCreateView.as_view(), name="message-list"),
    path("messages/<uuid:id>/", views.MessageDetailView.as_view(), name="message-detail"),
]
