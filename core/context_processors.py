from core.navigation import nav_for_user


def staff_navigation(request):
    user = getattr(request, "user", None)
    if user is None or not request.path.startswith("/staff/"):
        return {}
    return {
        "staff_nav": nav_for_user(user),
        "staff_roles": sorted(g.name for g in user.groups.all()) if user.is_authenticated else [],
    }
