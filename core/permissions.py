"""Permission checks for staff pages (function views and class views alike)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


class StaffPermissionDenied(PermissionDenied):
    """A signed-in user lacks `permissions` (`app_label.codename`): the 403 page names them,
    the roles that hold them and whom to ask (`core.views.permission_denied`)."""

    def __init__(self, permissions: tuple[str, ...] | list[str]):
        self.permissions = tuple(permissions)
        super().__init__(f"missing permission: {', '.join(self.permissions)}")


def staff_permission_required(*perms: str):
    """Anonymous users go to the login page; signed-in users without `perms` get 403."""

    def decorator(view):
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                raise StaffPermissionDenied([p for p in perms if not request.user.has_perm(p)])
            return view(request, *args, **kwargs)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        wrapped.required_permissions = perms
        return login_required(wrapped)

    return decorator
