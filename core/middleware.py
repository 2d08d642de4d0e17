import re

from core.logging import new_request_id, request_id_var

# Accept a caller's id (from a load balancer) only if it looks like one.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Tags the request, its log lines and its response with an id (`X-Request-ID`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class QueryStringNulMiddleware:
    """A NUL character in the query string is a 400 before any view runs.

    No parameter of ours may hold one, and PostgreSQL's driver refuses it in any statement
    (a 500 from a search box). One check here covers every page and endpoint, including
    the filters of third-party code (django-filter, DRF's search). API paths get the API's
    error envelope."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in value for value in _values(request)):
            return _bad_query(request)
        return self.get_response(request)


def _values(request):
    for key, values in request.GET.lists():
        yield key
        yield from values


def _bad_query(request):
    from django.http import HttpResponse, JsonResponse

    message = "The query string contains a NUL character."
    if request.path.startswith("/api/"):
        body = {"error": {"code": "invalid_parameter", "message": message, "details": {}}}
        return JsonResponse(body, status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
