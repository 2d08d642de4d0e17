"""What the media library takes: WhatsApp's types and sizes, names made safe."""

import pytest

from messaging.media.rules import MB, MediaRefused, media_file_check, media_name_clean
from messaging.providers.simulator.media import png_bytes

PNG = png_bytes()[:16]
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 "
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00"


@pytest.mark.parametrize(
    ("name", "size", "head", "mime_type", "kind"),
    [
        ("chart.png", 100, PNG, "image/png", "image"),
        ("photo.JPG", 100, b"\xff\xd8\xff\xe0", "image/jpeg", "image"),
        ("clip.mp4", 10 * MB, MP4, "video/mp4", "video"),
        ("voice.ogg", 100, b"OggS\x00", "audio/ogg", "audio"),
        ("brochure.pdf", 99 * MB, b"%PDF-1.7", "application/pdf", "document"),
        ("sticker.webp", 400 * 1024, WEBP, "image/webp", "sticker"),
    ],
)
def test_whatsapp_types_are_taken(name, size, head, mime_type, kind):
    checked = media_file_check(name=name, size=size, head=head)
    assert (checked.mime_type, checked.kind) == (mime_type, kind)


@pytest.mark.parametrize(
    ("name", "size", "head", "code"),
    [
        ("page.html", 10, b"<html>", "upload_type_refused"),
        ("logo.svg", 10, b"<svg", "upload_type_refused"),
        ("tool.exe", 10, b"MZ", "upload_type_refused"),
        ("noext", 10, b"%PDF-", "upload_type_refused"),
        ("fake.png", 10, b"<html><script>", "upload_type_refused"),  # content is not its name
        ("fake.webp", 10, b"GIF89a", "upload_type_refused"),
        ("fake.mp4", 10, b"<html></html>", "upload_type_refused"),
        ("big.jpg", 5 * MB + 1, b"\xff\xd8\xff", "upload_too_large"),
        ("big.mp4", 16 * MB + 1, MP4, "upload_too_large"),
        ("big.webp", 500 * 1024 + 1, WEBP, "upload_too_large"),
        ("big.pdf", 100 * MB + 1, b"%PDF-", "upload_too_large"),
        ("empty.pdf", 0, b"", "upload_empty"),
    ],
)
def test_everything_else_is_refused_with_a_reason(name, size, head, code):
    with pytest.raises(MediaRefused) as error:
        media_file_check(name=name, size=size, head=head)
    assert error.value.code == code
    assert error.value.details["file"]


def test_a_lower_cap_applies_below_whatsapps_limit():
    with pytest.raises(MediaRefused, match="at most 1 MB for document"):
        media_file_check(name="a.pdf", size=2 * MB, head=b"%PDF-", max_bytes=1 * MB)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\Report.pdf", "Report.pdf"),
        ("in\x00voice\r\n.pdf", "invoice.pdf"),
        ('a<b>c:"d|e?.png', "a_b_c_d_e_.png"),
        ("", "upload"),
        ("...", "upload"),
        ("x" * 300 + ".pdf", "x" * 96 + ".pdf"),
    ],
)
def test_names_are_made_safe(raw, clean):
    assert media_name_clean(raw) == clean
