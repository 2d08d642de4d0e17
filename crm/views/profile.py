"""The staff member's own profile: the number their campaign tests go to."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from core.errors import DomainError
from core.permissions import staff_permission_required
from crm import selectors
from crm.forms import StaffProfileForm
from crm.services import staff_phone_set
from crm.views.common import form_error_from


@staff_permission_required("core.access_staff")
def staff_profile(request):
    profile = selectors.staff_profile_for(request.user)
    initial = {"phone": profile.phone if profile else ""}
    form = StaffProfileForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            profile = staff_phone_set(
                user=request.user,
                phone=form.cleaned_data["phone"],
                consent=form.cleaned_data["consent"],
            )
        except DomainError as exc:
            form_error_from(form, exc)
            if not exc.details:
                form.add_error("phone", exc.message)
            status = 422
        else:
            text = "Your number is saved." if profile.phone else "Your number is removed."
            messages.success(request, text)
            return redirect("crm:staff_profile")
    return render(request, "crm/profile.html", {"form": form, "profile": profile}, status=status)
