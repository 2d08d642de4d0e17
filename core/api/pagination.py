"""The API's one pagination: limit/offset, the page size capped at API_MAX_PAGE_SIZE.

Without a cap `?limit=100000` handed a whole table to any role that may list it, including
roles that may not export it. A larger `limit` is lowered to the cap (the response's `next`
link walks the rest); getting everything is what the exports are for, behind their own
permission (README "API"). An offset past any real table is a 400, not a database overflow.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

# Past any table we will hold, and inside every database's 64-bit integers with room for a page.
MAX_OFFSET = 10**12


def api_max_page_size() -> int:
    return max(1, int(settings.API_MAX_PAGE_SIZE))


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset with `max_limit` from API_MAX_PAGE_SIZE (read per request, so an
    operator's setting and a test's override apply) and a bounded offset."""

    limit_query_description = (
        "Number of results to return per page (default 50). Values above API_MAX_PAGE_SIZE "
        "(200 unless the operator set it) are lowered to it; use the exports to get everything."
    )
    offset_query_description = (
        f"The initial index from which to return the results (0 to {MAX_OFFSET:,})."
    )

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return api_max_page_size()

    def get_offset(self, request) -> int:
        offset = super().get_offset(request)
        if offset > MAX_OFFSET:
            raise ValidationError({self.offset_query_param: [f"At most {MAX_OFFSET:,}."]})
        return offset

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"]["maximum"] = api_max_page_size()
        return parameters
