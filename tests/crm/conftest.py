import pytest
from django.core.files.uploadedfile import SimpleUploadedFile


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Import files go to a temporary MEDIA_ROOT, never to var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(name: str, content: str | bytes) -> SimpleUploadedFile:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def definitions(db):
    """The attribute definitions the import and segment tests use."""
    from tests.factories import AttributeDefinitionFactory

    return {
        "city": AttributeDefinitionFactory(key="city", label="City", type="text"),
        "lifetime_orders": AttributeDefinitionFactory(
            key="lifetime_orders", label="Lifetime orders", type="number"
        ),
        "plan": AttributeDefinitionFactory(
            key="plan", label="Plan", type="choice", choices=["free", "plus", "pro"]
        ),
        "renews_on": AttributeDefinitionFactory(key="renews_on", label="Renews", type="date"),
        "vip": AttributeDefinitionFactory(key="vip", label="VIP", type="boolean"),
    }
