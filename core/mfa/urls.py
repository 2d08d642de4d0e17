from django.urls import path

from core.mfa import views

urlpatterns = [
    path("", views.mfa_overview, name="mfa-overview"),
    path("setup/", views.mfa_setup, name="mfa-setup"),
    path("verify/", views.mfa_verify, name="mfa-verify"),
    path("recovery-codes/", views.mfa_recovery_codes, name="mfa-recovery-codes"),
    path("turn-off/", views.mfa_turn_off, name="mfa-turn-off"),
]
