from __future__ import annotations

from django.core.paginator import Paginator
from django.http import QueryDict

from core.errors import Conflict, DomainError

PAGE_SIZE = 50


def paginate(request, queryset, *, per_page: int = PAGE_SIZE):
    paginator = Paginator(queryset, per_page)
    return paginator.get_page(request.GET.get("page"))


def query_without_page(request) -> str:
    """The current filters as a query string, for pagination and export links."""
    params: QueryDict = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def form_error_from(form, exc: DomainError) -> None:
    """Put a service's refusal on the form: per-field where the details name a field."""
    details = exc.details if isinstance(exc.details, dict) and not isinstance(exc, Conflict) else {}
    placed = False
    for field, problem in details.items():
        name = field if field in form.fields else None
        if name:
            form.add_error(name, problem if isinstance(problem, str | list) else str(problem))
            placed = True
    if not placed:
        form.add_error(None, exc.message)
