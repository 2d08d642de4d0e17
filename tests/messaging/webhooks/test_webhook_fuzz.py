"""Signed junk on the webhook: the intake answers 200, 400 or 413 (never 5xx), and processing
never raises: an event it cannot apply ends `failed` with the reason (RELIABILITY.md, bad
input). Bodies are Meta-shaped with random holes, wrong types, huge strings and deep nesting,
so the parser and the services behind it are reached, not just the JSON decoder."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import WebhookEvent, WebhookState
from messaging.webhooks.services import body_sha256, webhook_event_process
from tests.factories import ChannelFactory
from tests.messaging.webhooks.support import APP_SECRET, PHONE_NUMBER_ID, WABA_ID, post_signed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]


@pytest.fixture
def webhook_settings(settings, tmp_path):
    from messaging.webhooks import intake

    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.MEDIA_ROOT = tmp_path
    intake._forget_secrets()
    ChannelFactory(phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID)
    yield settings
    intake._forget_secrets()


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # The intake enqueues after commit; the test processes in-line instead.
    monkeypatch.setattr("messaging.webhooks.services.webhook_drain_nudge", lambda: None)


KEYS = [
    "object",
    "entry",
    "id",
    "changes",
    "field",
    "value",
    "messaging_product",
    "metadata",
    "phone_number_id",
    "display_phone_number",
    "contacts",
    "profile",
    "name",
    "wa_id",
    "user_id",
    "messages",
    "from",
    "timestamp",
    "type",
    "text",
    "body",
    "button",
    "payload",
    "interactive",
    "button_reply",
    "list_reply",
    "title",
    "context",
    "statuses",
    "status",
    "recipient_id",
    "biz_opaque_callback_data",
    "conversation",
    "pricing",
    "errors",
    "code",
    "message",
    "error_data",
    "details",
    "user_preferences",
    "category",
    "event",
    "message_template_name",
    "message_template_language",
    "reason",
    "image",
    "mime_type",
    "caption",
    "location",
    "latitude",
    "longitude",
    "reaction",
    "emoji",
    "message_id",
]
HUGE = "x" * 200_000

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e400",
            "9" * 30,
            "sent",
            "delivered",
            "read",
            "failed",
            "text",
            "button",
            "interactive",
            "image",
            "STOP",
            "START",
            "messages",
            PHONE_NUMBER_ID,
            WABA_ID,
            "919812345678",
            "wamid.FUZZ",
            HUGE,
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5
        ),
    ),
    max_leaves=25,
)


def maybe(value):
    """The value, or junk in its place."""
    return st.one_of(st.just(value), json_values)


status_items = st.fixed_dictionaries(
    {
        "id": maybe("wamid.FUZZ"),
        "status": st.one_of(st.sampled_from(["sent", "delivered", "read", "failed"]), scalars),
        "timestamp": st.one_of(st.just("1767225705"), scalars),
        "recipient_id": maybe("919812345678"),
    },
    optional={
        "biz_opaque_callback_data": scalars,
        "errors": json_values,
        "pricing": json_values,
        "conversation": json_values,
    },
)
message_items = st.fixed_dictionaries(
    {
        "from": maybe("919812345678"),
        "id": st.one_of(st.builds(lambda n: f"wamid.IN{n}", st.integers(0, 10**6)), scalars),
        "timestamp": st.one_of(st.just("1767225705"), scalars),
        "type": st.one_of(
            st.sampled_from(
                [
                    "text",
                    "button",
                    "interactive",
                    "image",
                    "location",
                    "reaction",
                    "contacts",
                    "unknown_kind",
                ]
            ),
            scalars,
        ),
    },
    optional={
        "text": st.one_of(st.fixed_dictionaries({"body": scalars}), json_values),
        "button": json_values,
        "interactive": json_values,
        "image": json_values,
        "context": json_values,
        "errors": json_values,
    },
)
values = st.fixed_dictionaries(
    {"metadata": st.one_of(st.just({"phone_number_id": PHONE_NUMBER_ID}), json_values)},
    optional={
        "messaging_product": scalars,
        "contacts": st.one_of(st.lists(json_values, max_size=3), json_values),
        "messages": st.one_of(st.lists(message_items, max_size=3), json_values),
        "statuses": st.one_of(st.lists(status_items, max_size=3), json_values),
        "user_preferences": json_values,
        "errors": json_values,
        "event": scalars,
        "message_template_name": scalars,
    },
)
changes = st.fixed_dictionaries(
    {
        "field": st.one_of(
            st.sampled_from(["messages", "user_preferences", "message_template_status_update"]),
            scalars,
        ),
        "value": st.one_of(values, json_values),
    }
)
bodies = st.fixed_dictionaries(
    {
        "object": maybe("whatsapp_business_account"),
        "entry": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "id": maybe(WABA_ID),
                        "changes": st.one_of(st.lists(changes, max_size=3), json_values),
                    }
                ),
                max_size=3,
            ),
            json_values,
        ),
    },
    optional={"extra": json_values},
)


def post_and_process(client, raw: bytes) -> None:
    response = post_signed(client, raw)
    assert response.status_code in (200, 400, 403, 413), (response.status_code, raw[:300])
    if response.status_code == 403:  # correctly signed: refused only for naming no known channel
        assert response.content == b"unknown channel", raw[:300]
    if response.status_code != 200:
        assert not WebhookEvent.objects.filter(body_sha256=body_sha256(raw)).exists()
        return
    event = WebhookEvent.objects.get(body_sha256=body_sha256(raw))
    if event.state == WebhookState.PENDING:
        webhook_event_process(event_id=event.pk)  # must not raise
    event.refresh_from_db()
    assert event.state in (WebhookState.PROCESSED, WebhookState.FAILED)
    if event.state == WebhookState.FAILED:
        assert event.error.strip()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(body=bodies)
def test_meta_shaped_junk_is_stored_and_never_breaks_processing(client, body):
    post_and_process(client, json.dumps(body).encode())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=json_values)
def test_any_json_at_all_is_answered_without_a_server_error(client, body):
    post_and_process(client, json.dumps(body).encode())


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # nesting bombs: deeper than the decoder's recursion
        b'{"entry": ' * 50_000 + b"1" + b"}" * 50_000,
        b'{"object": "whatsapp_business_account", "entry": [' + b"[" * 60_000,  # and broken
        b'{"a": "\xff\xfe"}',  # not UTF-8
        b'{"a": 1}' + b"\x00" * 10,
        b'{"n": 1' + b"0" * 5000 + b"}",  # an integer longer than Python parses by default
        b'{"s": "\\ud800"}',  # a lone surrogate
    ],
    ids=["deep-list", "deep-object", "deep-broken", "latin1", "nul", "long-int", "surrogate"],
)
def test_pathological_bodies_are_refused_or_stored_never_500(client, raw):
    post_and_process(client, raw)


def nested(depth: int, leaf):
    for _ in range(depth):
        leaf = {"errors": [leaf]}
    return leaf


@pytest.mark.parametrize("depth", [50, 300, 450])
def test_deep_but_decodable_nesting_inside_real_items_is_processed_or_failed(client, depth):
    """Nesting the decoder accepts must not break the parser, the services or the database
    adapters that serialise the raw items again."""
    junk = nested(depth, "x")
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                            "contacts": [{"wa_id": "919812345678", "profile": junk}],
                            "messages": [
                                {
                                    "from": "919812345678",
                                    "id": f"wamid.DEEP{depth}",
                                    "timestamp": "1767225705",
                                    "type": "text",
                                    "text": junk,
                                    "context": junk,
                                }
                            ],
                            "statuses": [
                                {
                                    "id": "wamid.DEEPSTATUS",
                                    "status": "sent",
                                    "timestamp": "1767225705",
                                    "errors": [junk],
                                    "pricing": junk,
                                    "conversation": junk,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    post_and_process(client, json.dumps(body).encode())


def test_a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_413(client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 10_000
    head = (
        b'{"object": "whatsapp_business_account", "entry": [{"id": "%s", "changes": '
        b'[{"field": "account_update", "value": {}}]}], '
        b'"pad": "' % WABA_ID.encode()
    )
    raw = head + b"p" * (10_000 - len(head) - 2) + b'"}'
    assert len(raw) == 10_000
    assert post_signed(client, raw).status_code == 200
    bigger = raw[:-2] + b'p"}'
    assert post_signed(client, bigger).status_code == 413
