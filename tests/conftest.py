import pytest
from rest_framework.test import APIClient

from core.roles import ROLE_NAMES
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _webhook_nudge_flag():
    """The intake's "drain requested" flag lives in the cache, which outlives a test."""
    from messaging.webhooks.services import webhook_drain_nudge_clear

    webhook_drain_nudge_clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes media into its own folder: two workers sharing var/media would see
    each other's files (a backup inventories what a restore is writing)."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def make_user(db):
    def make(role: str | None = None, **kwargs):
        roles = [role] if role else []
        username = kwargs.pop("username", None) or (
            role.lower().replace(" ", "_") if role else "norole"
        )
        return UserFactory(username=username, roles=roles, **kwargs)

    return make


@pytest.fixture(params=ROLE_NAMES)
def role_user(request, make_user):
    return make_user(request.param)


@pytest.fixture
def admin_user(make_user):
    return make_user("Admin")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def simulator():
    """A real WhatsApp simulator on a free loopback port (no webhooks unless configured)."""
    from messaging.providers.simulator.server import SimulatorServer

    server = SimulatorServer(
        port=0,
        config={
            "webhooks": False,
            "access_token": "simulator-token",
            "app_secret": "simulator-app-secret",
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture
def channel(db, simulator, settings):
    """The Meta channel pointed at the simulator, with the simulator's templates synced."""
    from messaging.channels.templates import templates_sync
    from tests.factories import ChannelFactory

    settings.WHATSAPP_API_TOKEN = "simulator-token"
    settings.WHATSAPP_APP_SECRET = "simulator-app-secret"
    settings.PROVIDER_READ_TIMEOUT = 2.0
    channel = ChannelFactory(base_url=simulator.url, throughput_mps=1000)
    result = templates_sync(channel=channel)
    assert not result.errors, result.errors
    return channel


@pytest.fixture
def receiver():
    """A real event-webhook receiver on a loopback port (tests.messaging.hooks_out.support)."""
    from tests.messaging.hooks_out.support import Receiver

    server = Receiver().start()
    yield server
    server.stop()
