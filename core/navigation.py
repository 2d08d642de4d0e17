"""The staff navigation: each app registers its pages with the permission they need.

The menu a user sees is exactly the pages they may open, so navigation and access cannot
disagree (the page views check the same permission).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str
    section: str = "Workspace"
    order: int = 100

    def url(self) -> str | None:
        try:
            return reverse(self.url_name)
        except NoReverseMatch:
            return None


_REGISTRY: list[NavItem] = []


def nav_register(*items: NavItem) -> None:
    for item in items:
        if item not in _REGISTRY:
            _REGISTRY.append(item)


def nav_for_user(user) -> list[dict]:
    """Sections with their items, in order, limited to what `user` may open."""
    if not user.is_authenticated:
        return []
    sections: dict[str, list[dict]] = {}
    for item in sorted(_REGISTRY, key=lambda i: (i.order, i.label)):
        url = item.url()
        if url is None or not user.has_perm(item.permission):
            continue
        sections.setdefault(item.section, []).append({"label": item.label, "url": url})
    return [{"name": name, "items": items} for name, items in sections.items()]


nav_register(
    NavItem("Home", "staff:home", "core.access_staff", "Workspace", order=0),
    NavItem("API tokens", "admin:core_apitoken_changelist", "core.view_apitoken", "Admin", 900),
    NavItem(
        "Schedules",
        "admin:django_celery_beat_periodictask_changelist",
        "django_celery_beat.view_periodictask",
        "Admin",
        910,
    ),
    NavItem("Users", "admin:auth_user_changelist", "auth.view_user", "Admin", 920),
    NavItem("Audit log", "staff:audit", "core.view_auditevent", "Admin", 930),
    NavItem("API docs", "api-docs", "core.access_staff", "Help", 1000),
    NavItem("Two-factor sign-in", "mfa-overview", "core.access_staff", "Help", 1010),
)
