from rest_framework import permissions


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django model permissions, reads included (DRF's default lets any user read).

    A view without a queryset names what it needs in `required_permissions`
    (`{"GET": ["app.perm"], ...}` or a list for every method); a view that says nothing is
    refused, so a new endpoint is closed until someone decides who may use it.
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        required = getattr(view, "required_permissions", None)
        if required is not None:
            if isinstance(required, dict):
                required = required.get(request.method, required.get("*"))
                if required is None:
                    return False
            return request.user.has_perms(required)
        if getattr(view, "queryset", None) is None and not hasattr(view, "get_queryset"):
            return False
        return super().has_permission(request, view)
