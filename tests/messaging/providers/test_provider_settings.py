"""The two places that read Django settings: the provider factory and the simulator command."""

from __future__ import annotations

import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(not settings.configured, reason="needs Django settings")


def test_provider_from_settings():
    from django.test import override_settings

    from messaging.providers import provider_from_settings
    from messaging.providers.meta_cloud import MetaCloudProvider
    from messaging.providers.myoperator import MyOperatorProvider

    with override_settings(
        WHATSAPP_GRAPH_URL="http://127.0.0.1:8001/",
        WHATSAPP_API_VERSION="v25.0",
        WHATSAPP_API_TOKEN="tok",
        WHATSAPP_APP_SECRET="sec",
        WHATSAPP_PHONE_NUMBER_ID="200",
        WHATSAPP_BUSINESS_ACCOUNT_ID="100",
        MYOPERATOR_API_KEY="key",
        MYOPERATOR_COMPANY_ID="co",
    ):
        meta = provider_from_settings()
        other = provider_from_settings("meta_cloud", phone_number_id="201")
        myop = provider_from_settings("myoperator")
    assert isinstance(meta, MetaCloudProvider)
    assert meta.graph_url == "http://127.0.0.1:8001"
    assert (meta.phone_number_id, meta.waba_id) == ("200", "100")
    assert other.phone_number_id == "201"
    assert isinstance(myop, MyOperatorProvider) and myop.company_id == "co"
    with pytest.raises(ValueError):
        provider_from_settings("nope")


def test_simulator_command_options():
    from django.test import override_settings

    from messaging.management.commands.whatsapp_simulator import Command
    from messaging.providers.simulator import SimulatorServer

    command = Command()
    parser = command.create_parser("manage.py", "whatsapp_simulator")
    options = vars(
        parser.parse_args(
            [
                "--port=0",
                "--mps=80",
                "--read-delay=1.5",
                "--fail-number=919800000001:131026",
                "--fail-mode=async",
                "--outside-window=919800000002",
                "--no-webhooks",
                "--config",
                '{"duplicate_statuses": true}',
            ]
        )
    )
    with override_settings(
        SIMULATOR_WEBHOOK_URL="http://127.0.0.1:8000/webhooks/whatsapp/",
        WHATSAPP_APP_SECRET="sec",
        WHATSAPP_API_TOKEN="tok",
    ):
        config = command._config(options)
    assert config["webhook_url"] == "http://127.0.0.1:8000/webhooks/whatsapp/"
    assert config["app_secret"] == "sec" and config["access_token"] == "tok"
    assert config["mps"] == 80 and config["webhooks"] is False
    assert config["delays"] == {"read": 1.5}
    assert config["fail_numbers"] == {"919800000001": 131026}
    assert config["duplicate_statuses"] is True
    server = SimulatorServer("127.0.0.1", options["port"], config)
    try:
        assert server.config.fail_mode == "async"
        assert server.config.outside_window_numbers == ("919800000002",)
        assert server.config.delays["read"] == 1.5
    finally:
        server.stop()
