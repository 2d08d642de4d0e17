"""`/api/v1/media/`: upload once, list, read, delete; bounds and permissions."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.media.models import MediaAsset, MediaUpload
from messaging.providers.simulator.media import png_bytes
from tests.factories import ChannelFactory
from tests.messaging.media.support import PDF, asset_make

pytestmark = pytest.mark.django_db

URL = "/api/v1/media/"


@pytest.fixture
def manager(make_user, api_client):
    api_client.force_authenticate(make_user("Campaign manager"))
    return api_client


def upload(client, name="chart.png", content=None, **data):
    content = png_bytes() if content is None else content
    return client.post(URL, {"file": SimpleUploadedFile(name, content), **data}, format="multipart")


def test_upload_once_then_the_same_bytes_answer_with_the_same_asset(manager):
    first = upload(manager)
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["kind"] == "image" and body["mime_type"] == "image/png"
    assert body["name"] == "chart.png" and body["uploads"] == []
    again = upload(manager, name="renamed.png")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert MediaAsset.objects.count() == 1


def test_upload_to_a_number_now(manager, channel, simulator):
    response = upload(manager, "brochure.pdf", PDF, channel=channel.phone_number_id)
    assert response.status_code == 201, response.json()
    (row,) = response.json()["uploads"]
    assert row["channel"] == channel.phone_number_id and row["media_id"] in simulator.state.media
    assert MediaUpload.objects.get().media_id == row["media_id"]


def test_a_number_that_does_not_take_it_keeps_the_file_and_says_so(manager, settings):
    settings.WHATSAPP_API_TOKEN = "simulator-token"
    closed = ChannelFactory(phone_number_id="200000000000077", base_url="http://127.0.0.1:9")
    response = upload(manager, channel=closed.phone_number_id)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upload_failed" and error["details"]["asset"]
    assert MediaAsset.objects.filter(pk=error["details"]["asset"]).exists()


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("page.html", b"<html><script>alert(1)</script>", "upload_type_refused"),
        ("logo.svg", b"<svg onload=alert(1)>", "upload_type_refused"),
        ("fake.png", b"<html>not a png</html>", "upload_type_refused"),
        ("empty.pdf", b"", None),  # DRF refuses an empty file itself
    ],
)
def test_refused_files_name_the_field_and_keep_nothing(manager, name, content, code):
    response = upload(manager, name, content)
    assert response.status_code in (400, 422)
    error = response.json()["error"]
    assert "file" in error["details"]
    if code:
        assert error["code"] == code
    assert not MediaAsset.objects.exists()


def test_a_file_over_its_types_limit_is_refused(manager, settings):
    big = b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024)
    response = upload(manager, "big.jpg", big)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "upload_too_large"


def test_a_body_over_the_librarys_cap_is_refused_before_it_is_read(manager, settings):
    settings.MEDIA_LIBRARY_MAX_BYTES = 1000
    response = upload(manager, "a.pdf", PDF + b"0" * 100_000)
    assert response.status_code == 413


def test_list_detail_and_delete(manager, django_assert_max_num_queries, channel, simulator):
    image, brochure = asset_make(), asset_make("b.pdf", PDF)
    upload(manager, "c.png", png_bytes(seed=9), channel=channel.phone_number_id)
    with django_assert_max_num_queries(8):
        listed = manager.get(URL).json()
    assert [r["name"] for r in listed["results"]] == ["c.png", "b.pdf", "chart.png"]
    assert listed["count"] == 3
    assert [r["name"] for r in manager.get(URL, {"kind": "document"}).json()["results"]] == [
        "b.pdf"
    ]
    assert [r["id"] for r in manager.get(URL, {"search": "chart"}).json()["results"]] == [image.pk]
    detail = manager.get(f"{URL}{brochure.pk}/")
    assert detail.status_code == 200 and detail.json()["sha256"] == brochure.sha256
    assert manager.delete(f"{URL}{brochure.pk}/").status_code == 204
    assert not MediaAsset.objects.filter(pk=brochure.pk).exists()
    assert manager.get(f"{URL}{brochure.pk}/").status_code == 404


def test_permissions(make_user, api_client):
    asset = asset_make()
    detail = f"{URL}{asset.pk}/"
    assert api_client.get(URL).status_code in (401, 403)
    assert upload(api_client).status_code in (401, 403)
    assert api_client.delete(detail).status_code in (401, 403)
    api_client.force_authenticate(make_user("Content reviewer"))
    assert api_client.get(URL).status_code == 403
    assert upload(api_client).status_code == 403
    api_client.force_authenticate(make_user("Analyst"))
    assert api_client.get(URL).status_code == 200
    assert upload(api_client, "x.png", png_bytes(seed=3)).status_code == 403
    assert api_client.delete(detail).status_code == 403
    api_client.force_authenticate(make_user("Agent"))
    assert upload(api_client, "y.png", png_bytes(seed=4)).status_code == 201
    assert api_client.delete(detail).status_code == 403
    assert MediaAsset.objects.filter(pk=asset.pk).exists()


def test_sending_by_asset_through_the_messages_api(manager, channel, simulator):
    from messaging.models import Message
    from tests.factories import ContactFactory, window_open

    asset = asset_make()
    contact = ContactFactory()
    window_open(contact, channel)
    response = manager.post(
        "/api/v1/messages/",
        {"to": contact.phone, "type": "image", "image": {"asset": asset.pk, "caption": "Hi"}},
        format="json",
    )
    assert response.status_code in (201, 202), response.json()
    assert Message.objects.get().content == {"asset": asset.pk, "caption": "Hi"}
    refused = manager.post(
        "/api/v1/messages/",
        {"to": contact.phone, "type": "video", "video": {"asset": asset.pk}},
        format="json",
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "media_asset_kind"


def test_the_schema_documents_the_library(manager):
    schema = manager.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/media/" in schema and "/api/v1/media/{id}/" in schema
    assert "/api/v1/notifications/statistics/" in schema
