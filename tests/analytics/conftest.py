import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _ops_isolation(settings, tmp_path):
    """Fresh cache (health figures and probes are cached), backups and media in temporary
    folders, and no probe ever leaves the machine: the default Graph URL is a closed loopback
    port."""
    cache.clear()
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.WHATSAPP_GRAPH_URL = "http://127.0.0.1:9"
    settings.OPS_PROBE_TIMEOUT = 0.5
    yield
    cache.clear()


@pytest.fixture
def ops_client(client, make_user):
    client.force_login(make_user("Admin"))
    return client
