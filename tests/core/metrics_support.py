"""Reading /metrics in tests: scrape through the real view and parse Prometheus' text."""

from __future__ import annotations

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-test-token-0123456789"


def scrape_text(client: Client | None = None, *, token: str = TOKEN) -> str:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def scrape(client: Client | None = None, *, token: str = TOKEN) -> dict:
    """{(sample name, sorted label items): value} of one scrape."""
    samples = {}
    for family in text_string_to_metric_families(scrape_text(client, token=token)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    """One sample's value; 0 when the series does not exist yet (a counter never bumped)."""
    return samples.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))), 0.0)


def families(text: str) -> dict[str, str]:
    """Family name -> its HELP text."""
    return {f.name: f.documentation for f in text_string_to_metric_families(text)}
