"""The API's search and ordering filters: DRF's, safe with any query value.

* SearchFilter: the search terms go through `core.params.query_text` (no NUL, bounded
  length), so a hostile `?search=` is a 400, never a database error.
* OrderingFilter: a view that declares nothing to order by (no serializer, no
  `ordering_fields`) ignores `?ordering=` instead of raising ImproperlyConfigured, which
  answered `/campaigns/{id}/preflight/?ordering=x` with a 500.
* MomentFilter: django-filter's ISO date-time filter, bounded to the same date window.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ImproperlyConfigured
from rest_framework import filters

from core.params import DATE_MAX, DATE_MIN, query_text


class SearchFilter(filters.SearchFilter):
    def get_search_terms(self, request):
        query_text(request.query_params.get(self.search_param, ""), name=self.search_param)
        return super().get_search_terms(request)


class OrderingFilter(filters.OrderingFilter):
    def get_default_valid_fields(self, queryset, view, context=None):
        try:
            return super().get_default_valid_fields(queryset, view, context or {})
        except ImproperlyConfigured:  # DRF's only reason: the view names no fields
            return []


class _BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        if moment is not None and not DATE_MIN <= moment.date() <= DATE_MAX:
            raise forms.ValidationError(f"Dates run from {DATE_MIN} to {DATE_MAX}.")
        return moment


class MomentFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter within `core.params`' date window: `9999-12-31T23:59-12:00`
    is past `datetime.max` once converted to UTC for the query (a 500 before)."""

    field_class = _BoundedIsoDateTimeField
