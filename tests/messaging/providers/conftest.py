"""Fixtures for provider tests: the simulator on a free loopback port, a Meta provider
pointed at it, and a tiny recording HTTP server for webhooks and MyOperator. No database."""

from __future__ import annotations

import pytest

from messaging.providers.simulator import SimulatorServer

from .support import APP_SECRET, PHONE_NUMBER_ID, TOKEN, WABA_ID, Loopback, Responder, make_provider


@pytest.fixture
def loopback():
    servers: list[Loopback] = []

    def make(responder: Responder | None = None) -> Loopback:
        server = Loopback(responder)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def simulator():
    sim = SimulatorServer(
        config={
            "access_token": TOKEN,
            "app_secret": APP_SECRET,
            "waba_id": WABA_ID,
            "phone_number_id": PHONE_NUMBER_ID,
            "webhooks": False,
            "delays": {"sent": 0, "delivered": 0, "read": 0},
            "webhook_retry_backoff": 0.05,
        }
    ).start()
    yield sim
    sim.stop()


@pytest.fixture
def provider(simulator):
    return make_provider(simulator.url)


@pytest.fixture
def webhook_receiver(loopback, simulator):
    """A loopback receiver the simulator posts its signed webhooks to."""
    receiver = loopback()
    simulator.configure(webhook_url=f"{receiver.url}/webhooks/whatsapp/", webhooks=True)
    return receiver
