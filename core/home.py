"""The staff home page: one section per role, registered by the app that owns its data.

core imports no other app, so it cannot read campaigns or health itself: messaging and
analytics register their sections in `ready()` (as they register their navigation), each with
the role whose home shows it, the permission it needs, a template and a selector that gathers
its data. A user sees the sections of every role they hold (a superuser counts as Admin),
most relevant first: the sections with something waiting for them (customers waiting, items to
review, alerts), then the rest, each group in the order roles are listed in `core.roles`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.roles import ADMIN, ROLE_NAMES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HomeSection:
    """`gather(user)` returns the template's context; its `attention` (a count of things
    waiting for this user) moves the section up the page."""

    key: str
    title: str
    role: str
    permission: str
    template: str
    gather: Callable[[Any], dict[str, Any]]
    order: int = 100


_REGISTRY: dict[str, HomeSection] = {}


def home_register(*sections: HomeSection) -> None:
    for section in sections:
        if section.role not in ROLE_NAMES:
            raise ValueError(f"home section {section.key!r} names an unknown role {section.role!r}")
        _REGISTRY[section.key] = section


def user_roles(user) -> set[str]:
    """The role names `user` holds; a superuser counts as Admin."""
    roles = {g.name for g in user.groups.all()}
    if user.is_superuser:
        roles.add(ADMIN)
    return roles & set(ROLE_NAMES)


def home_sections_for(user) -> list[HomeSection]:
    """The registered sections of the roles `user` holds and may see, in role order."""
    roles = user_roles(user)
    rank = {name: index for index, name in enumerate(ROLE_NAMES)}
    chosen = [s for s in _REGISTRY.values() if s.role in roles and user.has_perm(s.permission)]
    return sorted(chosen, key=lambda s: (rank[s.role], s.order, s.key))


def home_build(user) -> list[dict[str, Any]]:
    """Each section with its gathered data, most relevant first. A section whose selector
    fails is shown as unavailable (and logged, so it reaches the error log) instead of
    taking the whole page down."""
    built = []
    for position, section in enumerate(home_sections_for(user)):
        try:
            data = section.gather(user)
            error = ""
        except Exception:
            logger.exception("home section %s failed", section.key)
            data, error = {}, "This section could not be loaded just now."
        attention = int(data.get("attention") or 0)
        built.append(
            {
                "key": section.key,
                "title": section.title,
                "role": section.role,
                "template": section.template,
                "data": data,
                "attention": attention,
                "error": error,
                "position": position,
            }
        )
    built.sort(key=lambda s: (s["attention"] == 0, s["position"]))
    return built
