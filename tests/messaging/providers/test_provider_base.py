"""The neutral interface: outbound validation, template parameters, timestamps, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from messaging.providers import build_provider, provider_class
from messaging.providers.base import (
    AmbiguousError,
    AuthError,
    InboundMessage,
    InvalidMessage,
    OutboundMessage,
    PermanentError,
    ProviderError,
    TemporaryError,
    header_value,
    normalise_errors,
    normalise_timestamp,
    parse_template_parameters,
    template_info_from_graph,
    validate_outbound,
)
from messaging.providers.meta_cloud import MetaCloudProvider


def msg(kind: str, content: dict, **kwargs) -> OutboundMessage:
    kwargs.setdefault("to", "+919876543210")
    return OutboundMessage(type=kind, content=content, **kwargs)


def buttons(*titles: str) -> dict:
    return {
        "type": "button",
        "body": {"text": "Choose"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": f"b{i}", "title": t}}
                for i, t in enumerate(titles)
            ]
        },
    }


def list_message(*section_sizes: int) -> dict:
    sections = []
    for s, size in enumerate(section_sizes):
        rows = [{"id": f"s{s}r{r}", "title": f"Row {r}"} for r in range(size)]
        sections.append({"title": f"Section {s}", "rows": rows})
    return {
        "type": "list",
        "body": {"text": "Pick a plan"},
        "action": {"button": "Plans", "sections": sections},
    }


VALID = [
    msg("text", {"body": "x" * 4096, "preview_url": True}, context_wamid="wamid.A"),
    msg("image", {"link": "https://cdn.example.com/a.png", "caption": "c" * 1024}),
    msg("image", {"id": "1234567890"}),
    msg("document", {"link": "https://x.example/a.pdf", "filename": "a.pdf"}),
    msg("audio", {"id": "555"}),
    msg("sticker", {"id": "556"}),
    msg("video", {"id": "557", "caption": "clip"}),
    msg("interactive", buttons("Yes", "No", "x" * 20)),
    msg("interactive", list_message(4, 6)),
    msg(
        "template",
        {
            "name": "order_confirmation",
            "language": {"code": "en", "policy": "deterministic"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Asha"}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "UNLOCK_CONTENT"}],
                },
            ],
        },
    ),
    msg("location", {"latitude": 12.97, "longitude": 77.59, "name": "Park"}),
    msg("reaction", {"message_id": "wamid.X", "emoji": ""}),
    msg("contacts", {"contacts": [{"name": {"formatted_name": "Dev"}}]}),
    OutboundMessage(type="text", content={"body": "hi"}, recipient_bsuid="US.13491208655302741918"),
]


@pytest.mark.parametrize("message", VALID, ids=lambda m: m.type)
def test_valid_messages_pass(message):
    validate_outbound(message)


INVALID = [
    ("text too long", msg("text", {"body": "x" * 4097}), "4096"),
    ("text missing", msg("text", {}), "text.body is required"),
    ("caption too long", msg("image", {"id": "1", "caption": "c" * 1025}), "1024"),
    ("id and link", msg("image", {"id": "1", "link": "https://a.example/x.png"}), "exactly one"),
    ("neither id nor link", msg("video", {"caption": "x"}), "exactly one"),
    ("bad link", msg("document", {"link": "ftp://x/a.pdf"}), "http(s)"),
    ("audio caption", msg("audio", {"id": "1", "caption": "x"}), "caption"),
    ("four buttons", msg("interactive", buttons("a", "b", "c", "d")), "limit is 3"),
    ("long title", msg("interactive", buttons("x" * 21)), "limit is 20"),
    ("duplicate titles", msg("interactive", buttons("Yes", "Yes")), "unique"),
    ("eleven rows", msg("interactive", list_message(5, 6)), "10 in total"),
    ("template no name", msg("template", {"language": {"code": "en"}}), "template.name"),
    ("template no language", msg("template", {"name": "x"}), "language.code"),
    (
        "button without index",
        msg(
            "template",
            {
                "name": "x",
                "language": {"code": "en"},
                "components": [{"type": "button", "sub_type": "quick_reply"}],
            },
        ),
        "index",
    ),
    (
        "currency float",
        msg(
            "template",
            {
                "name": "x",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {
                                "type": "currency",
                                "currency": {
                                    "fallback_value": "$1",
                                    "code": "USD",
                                    "amount_1000": 1.5,
                                },
                            }
                        ],
                    }
                ],
            },
        ),
        "amount_1000",
    ),
    ("no recipient", OutboundMessage(type="text", content={"body": "x"}), "recipient"),
    ("bad number", msg("text", {"body": "x"}, to="12ab"), "E.164"),
    ("unknown type", msg("hologram", {}), "unknown message type"),
    (
        "reaction with context",
        msg("reaction", {"message_id": "w", "emoji": "x"}, context_wamid="w"),
        "context",
    ),
    ("latitude range", msg("location", {"latitude": 91, "longitude": 0}), "range"),
    ("callback too long", msg("text", {"body": "x"}, callback_data="c" * 513), "512"),
]


@pytest.mark.parametrize(
    ("message", "reason"), [(m, r) for _, m, r in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_messages_raise_with_a_clear_reason(message, reason):
    with pytest.raises(InvalidMessage) as excinfo:
        validate_outbound(message)
    assert reason in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_missing_flag_distinguishes_missing_from_invalid():
    with pytest.raises(InvalidMessage) as missing:
        validate_outbound(msg("text", {}))
    with pytest.raises(InvalidMessage) as invalid:
        validate_outbound(msg("text", {"body": "x" * 5000}))
    assert missing.value.missing and missing.value.field == "text.body"
    assert not invalid.value.missing


def test_parse_template_parameters_positional_with_header_and_url_button():
    params = parse_template_parameters(
        [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, order {{2}} costs {{3}}; again {{1}}"},
            {"type": "FOOTER", "text": "no {{params}} counted here"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Unlock"},
                    {"type": "URL", "text": "Track", "url": "https://x.example/t/{{1}}"},
                ],
            },
        ]
    )
    assert params.format == "POSITIONAL"
    assert params.header == ["1"]
    assert params.body == ["1", "2", "3"]
    assert params.buttons == {"1": ["1"]}


def test_parse_template_parameters_named_and_media_header():
    params = parse_template_parameters(
        [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["h"]}},
            {"type": "BODY", "text": "Hi {{ first_name }}, {{discount}} off"},
        ]
    )
    assert params.format == "NAMED"
    assert params.header == []
    assert params.body == ["first_name", "discount"]


def test_declared_parameter_format_wins():
    params = parse_template_parameters([{"type": "BODY", "text": "{{1}}"}], "named")
    assert params.format == "NAMED"


def test_template_info_from_graph_item():
    info = template_info_from_graph(
        {
            "id": "42",
            "name": "payment_received",
            "language": "en",
            "status": "approved",
            "category": "utility",
            "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hi {{customer_name}} paid {{amount}}"}],
        }
    )
    assert (info.external_id, info.status, info.category) == ("42", "APPROVED", "UTILITY")
    assert info.parameters == ["customer_name", "amount"]
    assert info.raw["name"] == "payment_received"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1767225600", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        (1767225600, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        ("1767225600000", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        (1767225600000000, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        (None, None),
        ("", None),
        ("yesterday", None),
    ],
)
def test_normalise_timestamp(value, expected):
    assert normalise_timestamp(value) == expected


def test_normalise_timestamp_is_aware():
    assert normalise_timestamp("1").tzinfo is dt.UTC


def test_normalise_errors_flattens_error_data():
    errors = normalise_errors(
        [
            {"code": "131026", "title": "T", "message": "M", "error_data": {"details": "D"}},
            "junk",
            {"code": "x"},
        ]
    )
    assert errors[0] == {"code": 131026, "title": "T", "message": "M", "details": "D"}
    assert errors[1]["code"] == "x"
    assert normalise_errors(None) == []


def test_error_hierarchy_and_fields():
    error = TemporaryError("slow down", code=130429, http_status=429, retry_after=1.5)
    assert isinstance(error, ProviderError) and error.retryable
    assert error.retry_after == 1.5
    assert "code=130429" in str(error) and "http=429" in str(error)
    for cls in (PermanentError, AmbiguousError, AuthError):
        assert issubclass(cls, ProviderError) and not cls.retryable
    assert not issubclass(AuthError, PermanentError)


def test_inbound_reply_helpers():
    def inbound(kind, content):
        return InboundMessage(
            channel_key="1",
            wamid="w",
            from_wa_id="9",
            from_bsuid=None,
            profile_name=None,
            timestamp=None,
            type=kind,
            content=content,
        )

    assert inbound("button", {"payload": "UNLOCK", "text": "Unlock"}).reply_id == "UNLOCK"
    reply = inbound("interactive", {"type": "list_reply", "list_reply": {"id": "r1", "title": "R"}})
    assert (reply.reply_id, reply.text) == ("r1", "R")
    assert inbound("text", {"body": "hi"}).text == "hi"
    assert inbound("text", {"body": "hi"}).reply_id is None


def test_header_value_is_case_insensitive_and_understands_meta():
    assert header_value({"x-hub-signature-256": "a"}, "X-Hub-Signature-256") == "a"
    assert header_value({"HTTP_X_HUB_SIGNATURE_256": "b"}, "X-Hub-Signature-256") == "b"
    assert header_value({}, "X-Hub-Signature-256") is None


def test_build_provider_by_code():
    provider = build_provider("meta_cloud", phone_number_id="1", access_token="secret-token")
    assert isinstance(provider, MetaCloudProvider)
    assert "secret-token" not in repr(provider)
    with pytest.raises(ValueError, match="unknown provider"):
        provider_class("carrier_pigeon")
