"""Template sync (paging, parameters) and media (upload, resolve, download) via the simulator."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from messaging.providers.base import PermanentError
from messaging.providers.simulator.media import png_bytes
from messaging.providers.simulator.templates import DEFAULT_TEMPLATES

from .support import TOKEN, WABA_ID, json_answer, make_provider


def test_list_templates_follows_every_page(provider):
    templates = list(provider.list_templates(page_size=5))  # 12 templates -> 3 pages
    assert len(templates) == len(DEFAULT_TEMPLATES)
    assert len({t.external_id for t in templates}) == len(templates)
    statuses = {t.status for t in templates}
    assert {"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"} <= statuses
    assert {t.category for t in templates} == {"MARKETING", "UTILITY", "AUTHENTICATION"}


def test_template_parameters_from_the_library(provider):
    by_key = {(t.name, t.language): t for t in provider.list_templates()}
    order = by_key[("order_confirmation", "en")]
    assert order.parameter_format == "POSITIONAL"
    assert order.parameters == ["1", "2", "3", "4"]
    assert order.header_parameters == ["1"]
    assert order.button_parameters == {"0": ["1"]}
    payment = by_key[("payment_received", "en")]
    assert payment.parameter_format == "NAMED"
    assert payment.parameters == ["customer_name", "amount", "paid_on", "reference"]
    assert by_key[("flash_sale_blast", "en")].rejected_reason == "PROMOTIONAL"
    assert ("order_confirmation", "hi") in by_key


def test_raw_paging_shape(simulator):
    url = f"{simulator.url}/v25.0/{WABA_ID}/message_templates"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    first = requests.get(url, params={"limit": 5}, headers=headers, timeout=2).json()
    assert len(first["data"]) == 5
    cursors = first["paging"]["cursors"]
    assert set(cursors) == {"before", "after"}
    assert "after=" in first["paging"]["next"]
    second = requests.get(first["paging"]["next"], headers=headers, timeout=2).json()
    assert second["data"][0]["id"] != first["data"][-1]["id"]
    assert "previous" in second["paging"]
    last = requests.get(
        url,
        params={"limit": 5, "after": second["paging"]["cursors"]["after"]},
        headers=headers,
        timeout=2,
    ).json()
    seen = len(first["data"]) + len(second["data"])
    while "next" in last["paging"]:  # the library grows; walk to the last page
        seen += len(last["data"])
        last = requests.get(last["paging"]["next"], headers=headers, timeout=2).json()
    assert len(last["data"]) == (len(DEFAULT_TEMPLATES) - 1) % 5 + 1
    assert seen + len(last["data"]) == len(DEFAULT_TEMPLATES)
    assert "next" not in last["paging"]


def test_template_filters(simulator):
    url = f"{simulator.url}/v25.0/{WABA_ID}/message_templates"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    approved = requests.get(url, params={"status": "APPROVED"}, headers=headers, timeout=2).json()
    assert {t["status"] for t in approved["data"]} == {"APPROVED"}


def test_templates_replaceable_over_http(simulator, provider):
    custom = [
        {
            "name": "welcome",
            "language": "en",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Welcome {{1}}"}],
        }
    ]
    response = requests.post(
        f"{simulator.url}/_sim/templates", json={"templates": custom}, timeout=2
    )
    assert response.json() == {"ok": True, "count": 1}
    [template] = list(provider.list_templates())
    assert (template.name, template.status, template.parameters) == ("welcome", "APPROVED", ["1"])


def test_list_templates_stops_on_repeated_cursor(loopback):
    page = {
        "data": [
            {"id": "1", "name": "a", "language": "en", "status": "APPROVED", "category": "UTILITY"}
        ],
        "paging": {"cursors": {"after": "SAME"}, "next": "http://elsewhere/next"},
    }
    server = loopback(lambda request: json_answer(page))
    templates = list(make_provider(server.url).list_templates())
    assert len(templates) == 2  # the first page, and the repeat that revealed the loop
    assert len(server.requests) == 2
    assert "after=SAME" in server.requests[1]["path"]


def test_list_templates_needs_waba():
    with pytest.raises(PermanentError):
        list(make_provider("http://unused", waba_id="").list_templates())


def test_upload_then_fetch_media(provider):
    content = png_bytes(8, 8, seed=3)
    media_id = provider.upload_media(content, mime_type="image/png", filename="chart.png")
    media = provider.fetch_media(media_id)
    assert media.content == content
    assert media.mime_type == "image/png"
    assert media.sha256 == hashlib.sha256(content).hexdigest()
    assert media.file_size == len(content)
    assert media.content.startswith(b"\x89PNG")


def test_fetch_inbound_image(simulator, provider, webhook_receiver):
    reply = requests.post(
        f"{simulator.url}/_sim/inbound",
        json={"from": "919876543210", "image": {"caption": "receipt"}},
        timeout=2,
    ).json()
    [request] = webhook_receiver.wait_for(1)
    [event] = provider.parse_webhook(json.loads(request["body"]))
    assert event.wamid == reply["wamid"]
    media = provider.fetch_media(event.content["id"])
    assert media.content.startswith(b"\x89PNG")
    assert media.sha256 == event.content["sha256"]


def test_media_download_needs_the_token(simulator, provider):
    media_id = provider.upload_media(b"%PDF-1.4 tiny", mime_type="application/pdf")
    info = requests.get(
        f"{simulator.url}/v25.0/{media_id}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
    ).json()
    assert requests.get(info["url"], timeout=2).status_code == 401
    assert info["file_size"] == len(b"%PDF-1.4 tiny")


def test_unknown_media_is_permanent(provider):
    with pytest.raises(PermanentError) as excinfo:
        provider.fetch_media("999")
    assert excinfo.value.code == 100


def test_media_size_cap(simulator):
    provider = make_provider(simulator.url, media_max_bytes=100)
    media_id = provider.upload_media(b"x" * 500, mime_type="application/pdf")
    with pytest.raises(PermanentError, match="too large"):
        provider.fetch_media(media_id)


def test_media_size_cap_while_streaming(loopback):
    def answer(request):
        if request["path"].endswith("/media-1"):
            return json_answer(
                {"url": f"{server.url}/download", "mime_type": "image/png", "id": "1"}
            )
        return 200, {"Content-Type": "image/png"}, b"x" * 5000

    server = loopback(answer)
    provider = make_provider(server.url, media_max_bytes=1000)
    with pytest.raises(PermanentError, match="exceeds"):
        provider.fetch_media("media-1")
    assert server.requests[1]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_template_quality_from_the_library(provider):
    """The simulator lists Meta's quality rating per template, so the demo's Templates tab
    shows one: approved mostly GREEN with one YELLOW, the paused template RED."""
    quality = {(t.name, t.language): t.quality_score for t in provider.list_templates()}
    assert quality[("festive_offer", "en")] == "GREEN"
    assert quality[("order_confirmation", "hi")] == "GREEN"
    assert quality[("we_miss_you", "en")] == "YELLOW"
    assert quality[("advisor_content_drop", "en")] == "RED"
    assert quality[("weekly_portfolio_digest", "hi")] == "UNKNOWN"
    approved = [q for (n, _l), q in quality.items() if q in ("GREEN", "YELLOW")]
    assert approved.count("YELLOW") == 1 and approved.count("GREEN") >= 10
