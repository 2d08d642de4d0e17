"""Demo media library files (`seed_demo`): a product banner and a price list. Idempotent: the
same bytes are the same library file. Uploaded to the number at their first send."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.media.services import media_asset_create
from messaging.providers.simulator.media import png_bytes

# A one-page PDF with one line of text, small enough to read.
PRICE_LIST_PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R
/Resources << /Font << /F1 5 0 R >> >> >> endobj
4 0 obj << /Length 52 >> stream
BT /F1 14 Tf 24 72 Td (Parley demo price list) Tj ET
endstream endobj
5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""


def seed_media() -> dict:
    files = [
        ("product-banner.png", png_bytes(width=160, height=90, seed=42)),
        ("spring-offer.png", png_bytes(width=120, height=120, seed=7)),
        ("price-list.pdf", PRICE_LIST_PDF),
    ]
    created = 0
    for name, content in files:
        _asset, new = media_asset_create(upload=SimpleUploadedFile(name, content))
        created += new
    return {"library_files": created}
