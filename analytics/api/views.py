"""Conversions and reporting API.

`POST /api/v1/conversions/` needs `analytics.add_conversionevent` (listing: `view_`); the
reporting endpoints need `analytics.view_dashboard` (message-level reports also
`messaging.view_message`) and use the "reporting" throttle scope.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from analytics.api.serializers import (
    STATUS_NAMES,
    CampaignSummarySerializer,
    ConversionInputSerializer,
    ConversionSerializer,
    DashboardSerializer,
    InboundSerializer,
    MessageStatusSerializer,
    PageViewReportSerializer,
    RevenueReportSerializer,
    TemplateReportSerializer,
)
from analytics.days import analytics_tz
from analytics.models import ConversionEvent
from analytics.services.conversions import conversion_record
from analytics.template_report import template_report
from core.api.pagination import CappedLimitOffsetPagination
from core.errors import DomainError
from core.params import QueryParamError, query_bound, query_date, query_id
from crm.selectors import ContactUnresolved, contact_resolve

REPORTING = ["analytics.view_dashboard"]


class UncountedPagination(CappedLimitOffsetPagination):
    """limit/offset without COUNT(*): reports over large tables answer in constant time.
    `next` is set when there is at least one more row. Capped like every API list."""

    default_limit = 50

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request) or self.default_limit
        self.offset = self.get_offset(request)
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.has_more = len(rows) > self.limit
        # What the parent's link builders compare against: "one more than this page" or less.
        self.count = self.offset + len(rows)
        return rows[: self.limit]

    def get_next_link(self):
        if not self.has_more:
            return None
        return super().get_next_link()

    def get_paginated_response(self, data):
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


def _moment(raw: str | None, *, end: bool = False, name: str = "date"):
    """A datetime or a date (a date's start, or with `end` the next day's start, in the
    analytics time zone); dates outside `core.params`' window are a 400."""
    return query_bound(raw, name=name, tz=analytics_tz(), end=end)


def _phone_contact_id(raw: str | None) -> int | None:
    """The id of the contact a `phone` filter names; 0 (nothing matches) when nobody has it."""
    if not raw:
        return None
    try:
        return contact_resolve(phone=raw).pk
    except ContactUnresolved:
        return 0


# --- Conversions -------------------------------------------------------------------------------


class ConversionListCreateView(generics.ListCreateAPIView):
    """Record a conversion (once per `reference_id`; a repeat answers 200 with the first one and
    `Idempotent-Replayed: true`), or list conversions, newest first.

    Attribution: the last campaign, content or notification message delivered to the contact
    within ATTRIBUTION_WINDOW_DAYS before `occurred_at`; otherwise `organic`.
    """

    serializer_class = ConversionSerializer
    pagination_class = UncountedPagination
    filterset_fields = ["type", "contact", "attribution_source", "attributed_campaign"]
    ordering_fields = ["occurred_at", "created_at"]
    search_fields = ["reference_id"]

    def get_queryset(self):
        return ConversionEvent.objects.select_related("contact", "attributed_message").order_by(
            "-occurred_at", "-id"
        )

    @extend_schema(
        request=ConversionInputSerializer,
        responses={201: ConversionSerializer, 200: ConversionSerializer},
    )
    def post(self, request, *args, **kwargs):
        serializer = ConversionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        conversion, created = conversion_record(
            reference_id=data["reference_id"],
            type=data["type"],
            contact=contact_resolve(contact_id=data.get("contact"), phone=data.get("phone")),
            occurred_at=data.get("occurred_at"),
            value=data.get("value") or 0,
            currency=data.get("currency") or "",
            name=data.get("name") or "",
            page_name=data.get("page_name") or "",
            session_id=data.get("session_id") or "",
            source=data.get("source") or "",
            created_by=request.user,
        )
        conversion = self.get_queryset().get(pk=conversion.pk)
        response = Response(
            ConversionSerializer(conversion).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class ConversionDetailView(generics.RetrieveAPIView):
    serializer_class = ConversionSerializer

    def get_queryset(self):
        return ConversionEvent.objects.select_related("contact", "attributed_message")


# --- Reporting ---------------------------------------------------------------------------------


class ReportingView(APIView):
    required_permissions = REPORTING
    throttle_scope = "reporting"


@extend_schema(
    parameters=[
        OpenApiParameter("campaign", int, description="Campaign id"),
        OpenApiParameter("status", str, enum=sorted(STATUS_NAMES), description="Current status"),
        OpenApiParameter("date_from", str, description="Created at or after (date or date-time)"),
        OpenApiParameter("date_to", str, description="Created before the end of (date) / at"),
        OpenApiParameter("phone", str, description="The contact's phone (E.164)"),
        OpenApiParameter("limit", int),
        OpenApiParameter("offset", int),
    ],
    responses=MessageStatusSerializer(many=True),
)
class MessageStatusReportView(ReportingView, generics.GenericAPIView):
    """Delivery tracking of outbound messages, newest first: status, per-status times, error
    code and its meaning."""

    required_permissions = [*REPORTING, "messaging.view_message"]
    serializer_class = MessageStatusSerializer
    pagination_class = UncountedPagination
    filter_backends: list = []

    def get(self, request):
        params = request.query_params
        status = None
        campaign_id = query_id(params.get("campaign"), name="campaign")
        if params.get("status"):
            if params["status"].lower() not in STATUS_NAMES:
                raise DomainError(
                    f"status is one of {', '.join(sorted(STATUS_NAMES))}.", code="invalid_filter"
                )
            status = STATUS_NAMES[params["status"].lower()]
        messages = selectors.message_status_report(
            campaign_id=campaign_id,
            status=status,
            since=_moment(params.get("date_from"), name="date_from"),
            until=_moment(params.get("date_to"), end=True, name="date_to"),
            contact_id=_phone_contact_id(params.get("phone")),
        )
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(
    parameters=[
        OpenApiParameter("since", str, description="Received at or after (date or date-time)"),
        OpenApiParameter("type", str, description="Message type (text, button, ...)"),
        OpenApiParameter("phone", str, description="The contact's phone (E.164)"),
        OpenApiParameter("limit", int),
        OpenApiParameter("offset", int),
    ],
    responses=InboundSerializer(many=True),
)
class InboundReportView(ReportingView, generics.GenericAPIView):
    """Recent inbound activity, newest first."""

    required_permissions = [*REPORTING, "messaging.view_message"]
    serializer_class = InboundSerializer
    pagination_class = UncountedPagination
    filter_backends: list = []

    def get(self, request):
        params = request.query_params
        messages = selectors.inbound_report(
            since=_moment(params.get("since"), name="since"),
            type=params.get("type") or "",
            contact_id=_phone_contact_id(params.get("phone")),
        )
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CampaignSummaryView(ReportingView):
    """A campaign's figures: totals, funnel, failures by code with their meaning, sends by hour
    of day and the figures of each day. Rollups, merged with live reads while the campaign runs
    and just after (`campaign.live`), so they match the campaign page."""

    @extend_schema(responses=CampaignSummarySerializer)
    def get(self, request, pk: int):
        campaign = get_object_or_404(selectors.campaign_report_list(), pk=pk)
        summary = selectors.campaign_summary(campaign)
        data = {
            "campaign": {
                "id": campaign.pk,
                "name": campaign.name,
                "state": campaign.state,
                "launched_at": campaign.launched_at,
                "currency": settings.ANALYTICS_CURRENCY,
                "live": summary["live"],
            },
            "total": summary["total"],
            "funnel": summary["funnel"],
            "errors": summary["errors"],
            "hourly_sent": summary["hourly"],
            "days": summary["days"],
        }
        return Response(CampaignSummarySerializer(data).data)


RANGE_PARAMETERS = [
    OpenApiParameter("range", str, enum=["7", "30", "90", "custom"]),
    OpenApiParameter("start", OpenApiTypes.DATE),
    OpenApiParameter("end", OpenApiTypes.DATE),
]


class PageViewReportView(ReportingView):
    """Page views over a period (`range=7|30|90`, or `range=custom&start=&end=`): views and
    distinct contacts in all, by page, by the caller's `source` label and by day. Page views
    are engagement, never conversions."""

    @extend_schema(parameters=RANGE_PARAMETERS, responses=PageViewReportSerializer)
    def get(self, request):
        date_range = selectors.date_range_from(request.query_params)
        summary = selectors.page_view_summary(date_range)
        data = {"first": date_range.first, "last": date_range.last, **summary}
        return Response(PageViewReportSerializer(data).data)


class DashboardReportView(ReportingView):
    """The dashboard's key figures for a period (`range=7|30|90`, or `range=custom&start=&end=`),
    today's live figures and the figures of each day."""

    @extend_schema(parameters=RANGE_PARAMETERS, responses=DashboardSerializer)
    def get(self, request):
        date_range = selectors.date_range_from(request.query_params)
        series = selectors.snapshot_series(date_range)
        data = {
            "first": date_range.first,
            "last": date_range.last,
            "currency": settings.ANALYTICS_CURRENCY,
            "totals": selectors.kpis(series),
            "today": selectors.today_live(),
            "days": series,
        }
        return Response(DashboardSerializer(data).data)


# --- Seed 000's monitoring paths: aliases of the reporting endpoints -----------------------------


@extend_schema(
    summary="Alias of GET /api/v1/reporting/inbound",
    description="Seed 000's monitoring path: the same report, permissions and throttle as "
    "`GET /api/v1/reporting/inbound`.",
)
class MonitoringInboundView(InboundReportView):
    """Alias of the inbound report."""


class MonitoringDashboardView(DashboardReportView):
    """Alias of the dashboard report."""

    @extend_schema(
        summary="Alias of GET /api/v1/reporting/dashboard",
        description="Seed 000's monitoring path: the same report, permissions and throttle as "
        "`GET /api/v1/reporting/dashboard`.",
        parameters=RANGE_PARAMETERS,
        responses=DashboardSerializer,
    )
    def get(self, request):
        return super().get(request)


class RevenueReportView(ReportingView):
    """Revenue for a period (`range=7|30|90`, or `range=custom&start=&end=`): attributed and
    organic apart, cost and ROI ((attributed - cost) / cost, null without cost), per number
    and per the `source` label conversions were recorded with, and the price card in effect
    on the period's last day."""

    @extend_schema(
        parameters=RANGE_PARAMETERS,
        responses=RevenueReportSerializer,
    )
    def get(self, request):
        date_range = selectors.date_range_from(request.query_params)
        summary = selectors.revenue_summary(date_range)
        data = {
            "first": date_range.first,
            "last": date_range.last,
            "currency": settings.ANALYTICS_CURRENCY,
            "totals": summary["totals"],
            "by_number": summary["by_number"],
            "by_source": summary["by_label"],
            "price_card": summary["price_card"],
        }
        return Response(RevenueReportSerializer(data).data)


def _strict_range(params) -> selectors.DateRange:
    """The period of a report, as the dashboards read it, except that what cannot be read is a
    400 rather than the default period: `range` one of 7, 30, 90 or custom; a custom range
    needs `start` (a date), and `end` (default today) not before it."""
    key = str(params.get("range") or selectors.DEFAULT_RANGE)
    choices = [value for value, _label in selectors.RANGE_CHOICES]
    if key not in [*choices, "custom"]:
        raise QueryParamError("range", f"one of {', '.join(choices)} or custom.")
    if key == "custom":
        first = query_date(params.get("start"), name="start")
        last = query_date(params.get("end"), name="end")
        if first is None:
            raise QueryParamError("start", "a custom range needs a start date (YYYY-MM-DD).")
        if last is not None and last < first:
            raise QueryParamError("end", "must not be before start.")
    return selectors.date_range_from(params)


class TemplateReportView(ReportingView):
    """Per template (number, name and language) over a period: the period's sends and how many
    were delivered, read, answered and clicked (within the attribution window), failures by
    error code, cost, and Meta's status and quality rating. Templates
    without sends in the period are listed when approved. A custom range is capped at a year
    and at today, as on the dashboards."""

    @extend_schema(
        parameters=[
            OpenApiParameter("range", str, enum=["7", "30", "90", "custom"]),
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day (custom)"),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (custom; today)"),
        ],
        responses=TemplateReportSerializer,
    )
    def get(self, request):
        date_range = _strict_range(request.query_params)
        data = {
            "first": date_range.first,
            "last": date_range.last,
            "currency": settings.ANALYTICS_CURRENCY,
            "reply_window_days": settings.ATTRIBUTION_WINDOW_DAYS,
            "templates": template_report(date_range.first, date_range.last),
        }
        return Response(TemplateReportSerializer(data).data)
