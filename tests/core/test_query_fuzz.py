"""Hostile query values get a 400 (or are ignored), never a 500 (RELIABILITY.md, bad input).

Regression: twenty server errors came from 30-digit `limit`/`offset`, a NUL byte in search
fields, and dates at the calendar's edges (`0001-01-01`, `9999-12-31`: date arithmetic
overflow, time-zone conversion). Every GET route of the API (`/api/v1/`) and of the staff
pages (`/staff/`) is opened as an Admin, first plainly to learn which query parameters the
view reads (every `request.GET` lookup is recorded), then with each hostile value in each of
those parameters and in the common ones (filters, search, date ranges, page numbers).

Path parameters take the id of a real row where the route's name says which (the row made
below), so views past their lookup are reached.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.http import QueryDict, StreamingHttpResponse
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.datastructures import MultiValueDict

from tests.factories import (
    AdvisorFactory,
    AppErrorFactory,
    ChannelFactory,
    ContactFactory,
    ContentItemFactory,
    ConversationFactory,
    FaqEntryFactory,
    JobRunFactory,
    MessageFactory,
    NotificationFactory,
    SegmentFactory,
    TagFactory,
    TemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HOSTILE = [
    "9" * 30,  # past every integer column
    "-" + "9" * 30,
    "\x00",
    "a\x00b",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59-12:00",  # past datetime.max once in UTC
    "0001-01-01T00:00:00+14:00",  # before datetime.min once in UTC
    "2026-02-30",
    "-1",
    "0",
    "1e309",
    "NaN",
    "%",
    "x" * 3000,
]
# Read by many views: tried on every route even when the plain request does not read them.
COMMON = [
    "q", "search", "page", "limit", "offset", "ordering", "date_from", "date_to", "start",
    "end", "since", "until", "day", "status", "state", "kind", "campaign", "channel", "after",
    "period", "days", "contact", "type", "phone", "tag", "segment",
]  # fmt: skip
# Routes that must not be fuzzed with GET: they stream forever or are not pages.
SKIP = re.compile(r"(events/stream|/schema|/docs|webhooks/)")


class _Recorder:
    """Records every key a view reads from a QueryDict while it is installed."""

    keys: set[str] | None = None

    def __enter__(self):
        self.keys = set()
        recorder = self
        originals = {
            name: getattr(MultiValueDict, name) for name in ("get", "getlist", "__getitem__")
        }
        self._originals = originals

        def wrap(name):
            original = originals[name]

            def recorded(self, key, *args, **kwargs):
                if isinstance(self, QueryDict) and isinstance(key, str):
                    recorder.keys.add(key)
                return original(self, key, *args, **kwargs)

            return recorded

        for name in originals:
            setattr(QueryDict, name, wrap(name))
        return self

    def __exit__(self, *exc):
        for name in self._originals:
            delattr(QueryDict, name)  # back to MultiValueDict's own


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _fuzzed_routes() -> list[str]:
    found = []
    for route, _pattern in _routes():
        path = route.replace("^", "").replace("$", "")
        if "(?P<format>" in path:
            continue  # DRF's format-suffix twins of the same views
        if not (path.startswith("api/v1/") or path.startswith("staff/")) or SKIP.search(path):
            continue
        found.append(path)
    return sorted(set(found))


ROUTES = _fuzzed_routes()
PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


@pytest.fixture
def world(db):
    """One row of each kind a route may name, and an Admin."""
    admin = UserFactory(username="fuzz-admin", roles=["Admin"])
    channel = ChannelFactory()
    template = TemplateFactory(channel=channel, name="order_update")
    contact = ContactFactory()
    from messaging.models import Campaign

    ids = {
        "contact": contact.pk,
        "channel": channel.pk,
        "template": template.pk,
        "tag": TagFactory(name="fuzz").pk,
        "segment": SegmentFactory().pk,
        "advisor": AdvisorFactory().pk,
        "message": MessageFactory(channel=channel, contact=contact),
        "campaign": Campaign.objects.create(name="Fuzz", channel=channel, template=template).pk,
        "conversation": ConversationFactory(contact=contact, channel=channel).pk,
        "notification": NotificationFactory().pk,
        "content": ContentItemFactory(template=template).pk,
        "faq": FaqEntryFactory().pk,
        "job": JobRunFactory().pk,
        "error": AppErrorFactory().pk,
    }
    return admin, ids


def _path(route: str, ids: dict) -> str:
    def value(match: re.Match) -> str:
        conv = match.group("conv") or ""
        name = match.group("name") or match.group("rname")
        if conv == "uuid" or "uuid" in name:
            message = ids["message"]
            return str(message.uuid) if hasattr(message, "uuid") else str(uuid.uuid4())
        for key, pk in ids.items():
            if key in route and key != "message" and conv in ("int", ""):
                return str(pk)
        if "message" in route:
            return str(ids["message"].pk)
        return "1" if conv in ("int", "") else "x"

    return "/" + PARAM.sub(value, route)


def _body(response) -> None:
    if isinstance(response, StreamingHttpResponse):
        b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in response)


@pytest.mark.parametrize("route", ROUTES)
def test_hostile_query_values_never_cause_a_server_error(client, world, route):
    admin, ids = world
    client.force_login(admin)
    path = _path(route, ids)
    with _Recorder() as recorder:
        plain = client.get(path)
    _body(plain)
    assert plain.status_code < 500, (path, plain.status_code)
    if plain.status_code in (404, 405):
        return
    names = sorted(recorder.keys | set(COMMON))
    failures = []

    def check(what, query):
        response = client.get(path, query)
        _body(response)
        nul = any("\x00" in v for v in query.values())
        if response.status_code >= 500 or (nul and response.status_code != 400):
            failures.append((what, str(query)[:80], response.status_code))

    for value in HOSTILE:
        check("all", dict.fromkeys(names, value))
        # Modes that make other parameters count (a custom date range of the dashboards).
        check("custom range", {"range": "custom", "start": value, "end": value})
    for name in sorted(recorder.keys):
        for value in HOSTILE:
            check(name, {name: value})
    assert not failures, (path, failures)


def test_the_routes_cover_the_api_and_the_staff_pages():
    assert len([r for r in ROUTES if r.startswith("api/v1/")]) >= 30
    assert len([r for r in ROUTES if r.startswith("staff/")]) >= 30
