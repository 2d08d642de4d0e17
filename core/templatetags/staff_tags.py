"""Template helpers shared by every staff page."""

from __future__ import annotations

from django import template
from django.http import QueryDict

register = template.Library()

# Parameters that page or order a list without narrowing it.
NOT_FILTERS = frozenset({"page", "per_page", "ordering", "sort"})


def list_filtered(params: QueryDict, *, ignore: frozenset[str] | set[str] = frozenset()) -> bool:
    """True when a search or filter narrowed the list: any parameter with a value, other than
    paging and ordering and the `ignore`d ones (a tab, for instance)."""
    skip = NOT_FILTERS | set(ignore)
    return any(value.strip() for key in params if key not in skip for value in params.getlist(key))


@register.inclusion_tag("staff/_empty_results.html", takes_context=True)
def empty_results(context, plural: str, ignore: str = "") -> dict:
    """What an empty list says: "No campaigns yet." when there is nothing at all, and "No
    campaigns match your search." with a link that clears the filters when a search or filter
    left nothing. `ignore` names parameters (comma-separated) that select a view rather than
    filter it; the clear link keeps them."""
    request = context["request"]
    kept_names = {name.strip() for name in ignore.split(",") if name.strip()}
    kept = QueryDict(mutable=True)
    for name in kept_names:
        if request.GET.getlist(name):
            kept.setlist(name, request.GET.getlist(name))
    clear_url = request.path + (f"?{kept.urlencode()}" if kept else "")
    return {
        "plural": plural,
        "filtered": list_filtered(request.GET, ignore=kept_names),
        "clear_url": clear_url,
    }
