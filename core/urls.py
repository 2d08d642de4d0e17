from django.urls import path

from core import views

urlpatterns = [
    path("", views.staff_home, name="home"),
]
