"""Library files for the media tests: real bytes, kept through the service."""

from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.media.services import media_asset_create
from messaging.providers.simulator.media import png_bytes

PDF = b"%PDF-1.4\n% a tiny brochure\n"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def asset_make(name="chart.png", content=None, user=None):
    if content is None:
        content = png_bytes(seed=sum(map(ord, name)) % 251)
    asset, _created = media_asset_create(upload=SimpleUploadedFile(name, content), uploaded_by=user)
    return asset
