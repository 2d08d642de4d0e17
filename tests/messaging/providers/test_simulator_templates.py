"""Template management through the Meta client against the simulator: creation checked as
Meta checks it, review after the configured delay with Meta's signed status webhook, edits,
deletion; and MyOperator's clear refusal."""

from __future__ import annotations

import json
import time

import pytest
import requests

from messaging.providers import (
    OutboundMessage,
    PermanentError,
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
    UnsupportedOperation,
)
from messaging.providers.meta_cloud.webhooks import parse_webhook, verify_signature
from messaging.providers.myoperator import MyOperatorProvider

from .support import APP_SECRET

TO = "919812345678"
BODY = {
    "type": "BODY",
    "text": "Hello {{1}}, your spring order {{2}} is ready to collect.",
    "example": {"body_text": [["Asha", "#40321"]]},
}


def create(provider, name="spring_ready", body=None, **extra):
    return provider.template_create(
        name=name,
        language="en",
        category="UTILITY",
        components=[body or BODY, {"type": "FOOTER", "text": "Parley demo"}],
        parameter_format="POSITIONAL",
        **extra,
    )


def events(receiver, count, timeout=5.0):
    """The signed webhooks' events, once there are `count` (several may share one POST)."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for request in list(receiver.requests):
            assert verify_signature(APP_SECRET, request["headers"], request["body"])
            found += parse_webhook(json.loads(request["body"]))
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"expected {count} events, got {len(found)}"
            return found
        time.sleep(0.05)


def library(simulator, name):
    return [t for t in simulator.state.templates_snapshot() if t["name"] == name]


def test_a_created_template_is_pending_then_approved_with_metas_webhook(
    simulator, provider, webhook_receiver
):
    simulator.configure(template_review_delay=0.3)
    result = create(provider)
    assert (result.status, result.category) == ("PENDING", "UTILITY") and result.external_id
    [listed] = library(simulator, "spring_ready")
    assert listed["status"] == "PENDING" and listed["components"][0] == BODY
    [event] = events(webhook_receiver, 1)
    assert isinstance(event, TemplateStatusUpdate)
    assert (event.name, event.language, event.status, event.external_id) == (
        "spring_ready", "en", "APPROVED", result.external_id,
    )  # fmt: skip
    assert event.timestamp is not None
    assert library(simulator, "spring_ready")[0]["status"] == "APPROVED"
    sent = provider.send(
        OutboundMessage(
            type="template",
            to=TO,
            content={
                "name": "spring_ready",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Ravi"},
                            {"type": "text", "text": "#1"},
                        ],
                    }
                ],
            },
        )
    )
    assert sent.provider_message_id


def test_the_marker_gets_a_template_rejected_with_reason_and_info(
    simulator, provider, webhook_receiver
):
    simulator.configure(template_review_delay=0.1, template_reject_reason="PROMOTIONAL")
    body = {**BODY, "text": "Hello {{1}}, [REJECT] your order {{2}} is ready to collect."}
    create(provider, name="to_reject", body=body)
    [event] = events(webhook_receiver, 1)
    assert (event.status, event.reason) == ("REJECTED", "PROMOTIONAL")
    assert "rejection_info" in event.detail
    [listed] = library(simulator, "to_reject")
    assert (listed["status"], listed["rejected_reason"]) == ("REJECTED", "PROMOTIONAL")


def test_an_invalid_template_is_refused_with_metas_words(provider, simulator):
    body = {**BODY, "example": {"body_text": [["Asha"]]}}
    with pytest.raises(PermanentError) as excinfo:
        create(provider, body=body)
    assert excinfo.value.code == 100
    assert "body.example" in excinfo.value.detail and "{{2}}" in excinfo.value.detail
    assert library(simulator, "spring_ready") == []


def test_a_second_template_of_the_same_name_and_language_is_refused(provider, simulator):
    create(provider)
    with pytest.raises(PermanentError) as excinfo:
        create(provider)
    assert "already" in excinfo.value.detail
    assert len(library(simulator, "spring_ready")) == 1


def test_an_edit_goes_back_to_review_and_a_pending_one_cannot_be_edited(
    simulator, provider, webhook_receiver
):
    simulator.configure(template_review_delay=0.1)
    created = create(provider)
    with pytest.raises(PermanentError):  # still PENDING
        provider.template_edit(external_id=created.external_id, components=[BODY])
    events(webhook_receiver, 1)
    new_body = {**BODY, "text": "Hi {{1}}, your summer order {{2}} is ready to collect."}
    result = provider.template_edit(external_id=created.external_id, components=[new_body])
    assert result.status == "PENDING"
    [listed] = library(simulator, "spring_ready")
    assert listed["status"] == "PENDING" and listed["components"] == [new_body]
    assert [e.status for e in events(webhook_receiver, 2)] == ["APPROVED", "APPROVED"]


def test_deletion_removes_one_language_and_posts_deleted(simulator, provider, webhook_receiver):
    simulator.configure(template_review_delay=60)
    created = create(provider)
    provider.template_delete(name="spring_ready", external_id=created.external_id)
    assert library(simulator, "spring_ready") == []
    [event] = events(webhook_receiver, 1)
    assert (event.status, event.external_id) == ("DELETED", created.external_id)
    with pytest.raises(PermanentError):
        provider.template_delete(name="spring_ready", external_id=created.external_id)


def test_the_review_waits_for_the_configured_delay(simulator, provider):
    simulator.configure(template_review_delay=0.4)
    submitted = time.monotonic()
    create(provider)
    assert library(simulator, "spring_ready")[0]["status"] == "PENDING"
    deadline = submitted + 5.0
    while library(simulator, "spring_ready")[0]["status"] != "APPROVED":
        assert time.monotonic() < deadline, "the review never ended"
        time.sleep(0.02)
    assert time.monotonic() - submitted >= 0.4


def test_myoperator_says_it_cannot_manage_templates():
    provider = MyOperatorProvider(
        phone_number_id="1", api_key="k", company_id="c", base_url="http://127.0.0.1:9"
    )
    assert not provider.supports_template_authoring
    with pytest.raises(UnsupportedOperation, match="console"):
        create(provider)
    with pytest.raises(UnsupportedOperation):
        provider.template_delete(name="x")


def test_quality_and_category_changes_post_metas_webhooks(simulator, webhook_receiver):
    for path, body in (
        ("template_quality", {"name": "hello_world", "language": "en_US", "quality": "yellow"}),
        ("template_category", {"name": "hello_world", "language": "en_US",
                               "category": "MARKETING"}),
    ):  # fmt: skip
        response = requests.post(f"{simulator.url}/_sim/{path}", json=body, timeout=2)
        assert response.ok, response.text
    found = events(webhook_receiver, 2)
    quality = next(e for e in found if isinstance(e, TemplateQualityUpdate))
    category = next(e for e in found if isinstance(e, TemplateCategoryUpdate))
    assert (quality.name, quality.previous, quality.quality) == ("hello_world", "GREEN", "YELLOW")
    assert (category.previous, category.new_category) == ("UTILITY", "MARKETING")
    [listed] = library(simulator, "hello_world")
    assert (listed["quality_score"]["score"], listed["category"]) == ("YELLOW", "MARKETING")
    missing = requests.post(f"{simulator.url}/_sim/template_quality", json={"name": "x"}, timeout=2)
    assert missing.status_code == 400
