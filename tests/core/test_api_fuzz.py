"""Every operation of the OpenAPI schema, fuzzed by schemathesis in process (WSGI) with an
Admin token: no 5xx, every error in the API's envelope, and every documented response matches
its schema (RELIABILITY.md, bad input). Bounded for `make test`: ten examples per operation,
no shrinking. One pytest item per operation (not `schema.parametrize()`, whose items share
one node id and are not distributed by xdist).

Deliberate exclusions (RELIABILITY.md):
* `status_code_conformance`: drf-spectacular documents the success responses only; the 4xx
  answers all share the API's error envelope (README, "API"), checked here on every 4xx.
* Operations that stream files (`.../errors.csv`) are checked for no 5xx only.

Hostile query values (30-digit numbers, NUL, dates at the calendar's edges) in every
parameter of every API list and staff page: `tests/core/test_query_fuzz.py`.
"""

from __future__ import annotations

import json
import os

import hypothesis
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from core.services import api_token_create
from tests.factories import (
    AdvisorFactory,
    ChannelFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    NotificationFactory,
    SegmentFactory,
    TagFactory,
    TemplateFactory,
    UserFactory,
)

load_all_checks()


def _schema() -> dict:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw))


schema = schemathesis.openapi.from_dict(_schema())
schema.app = get_wsgi_application()

# Real ids for most path parameters, so handlers past the lookup are reached; the rest keep
# the generated value (unknown ids, wrong types). Deterministic: hypothesis replays it.
IDS: dict[str, list] = {}


@schema.hook
def map_path_parameters(context, path_parameters):
    pool = IDS.get(_resource(context.operation.path)) or []
    if not path_parameters or not pool:
        return path_parameters
    for name, value in path_parameters.items():
        digest = sum(str(value).encode())
        if digest % 4:
            path_parameters[name] = pool[digest % len(pool)]
    return path_parameters


def _resource(path: str) -> str:
    return path.strip("/").split("/")[2] if path.count("/") > 3 else ""


@pytest.fixture
def admin_headers(db):
    from messaging.models import Campaign

    admin = UserFactory(username="fuzz-admin", roles=["Admin"])
    _token, key = api_token_create(user=admin, name="fuzz")
    channel = ChannelFactory()
    template = TemplateFactory(channel=channel, name="order_update")
    contacts = ContactFactory.create_batch(3)
    tag = TagFactory(name="fuzz")
    tag.contacts.add(*contacts)
    segment = SegmentFactory()
    advisor = AdvisorFactory()
    message = MessageFactory(channel=channel, contact=contacts[0])
    campaign = Campaign.objects.create(name="Fuzz", channel=channel, template=template)
    campaign.tags.add(tag)
    conversation = ConversationFactory(contact=contacts[0], channel=channel)
    notification = NotificationFactory()
    IDS.clear()
    IDS.update(
        contacts=[c.pk for c in contacts],
        tags=[tag.pk],
        segments=[segment.pk],
        advisors=[advisor.pk],
        messages=[str(message.uuid)],
        campaigns=[campaign.pk],
        conversations=[conversation.pk],
        notifications=[notification.pk],
    )
    return {"Authorization": f"Token {key}"}


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
OPERATIONS = [result.ok() for result in schema.get_all_operations()]
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))  # raise it for a deeper run


def check(case, response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400 and response.status_code != 405:
        error = response.json().get("error")
        assert isinstance(error, dict) and {"code", "message", "details"} <= set(error), (
            response.status_code,
            response.text[:300],
        )
    if not case.path.endswith(".csv"):
        case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_every_operation_answers_within_its_schema(operation, admin_headers):
    """Valid and invalid inputs alike (schemathesis' positive and negative modes)."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],  # no shrinking: a failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=cases)
    def run(case):
        check(case, case.call(headers=admin_headers))

    run()


def test_every_api_route_is_in_the_schema():
    """A route missing from the schema would escape the fuzzing above."""
    documented = {op.path.rstrip("/") for op in OPERATIONS}
    assert len(documented) >= 50
    assert "/api/v1/contacts/{id}" in documented
