"""The public tracked-link redirect: `/l/<token>` records the click and answers 302."""

from django.http import Http404, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from messaging.links.services import link_click_record


@never_cache
@require_safe
def tracked_link_redirect(request, token: str):
    """Redirect to the URL stored for `token` (never one taken from the request)."""
    link = link_click_record(
        token=token,
        user_agent=request.headers.get("User-Agent", ""),
        ip=request.META.get("REMOTE_ADDR", ""),
        record=request.method == "GET",
    )
    if link is None:
        raise Http404("Unknown link.")
    response = HttpResponseRedirect(link.url)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
