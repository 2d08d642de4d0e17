"""`/staff/media/`: the library page, uploads, deletion, and files served safely."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.media.models import MediaAsset, MediaUpload
from messaging.providers.simulator.media import png_bytes
from tests.messaging.media.support import PDF, asset_make

pytestmark = pytest.mark.django_db

PAGE = "/staff/media/"


@pytest.fixture
def manager_client(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


def test_the_page_lists_files_with_thumbnails_for_images_only(
    manager_client, django_assert_max_num_queries
):
    image, brochure = asset_make(), asset_make("brochure.pdf", PDF)
    with django_assert_max_num_queries(15):
        response = manager_client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<img src="/staff/media/{image.pk}/file/"' in html
    assert f'<img src="/staff/media/{brochure.pk}/file/"' not in html
    assert "brochure.pdf" in html and 'enctype="multipart/form-data"' in html
    assert "csrfmiddlewaretoken" in html and "data-confirm" in html
    filtered = manager_client.get(PAGE, {"kind": "document"}).content.decode()
    assert "brochure.pdf" in filtered and "chart.png" not in filtered
    assert "No files match" in manager_client.get(PAGE, {"q": "nothing-like-it"}).content.decode()


def test_upload_from_the_page_and_to_a_number(manager_client, channel, simulator):
    response = manager_client.post(
        PAGE, {"file": SimpleUploadedFile("chart.png", png_bytes()), "channel": channel.pk}
    )
    assert response.status_code == 302
    asset = MediaAsset.objects.get()
    assert MediaUpload.objects.get(asset=asset).media_id in simulator.state.media
    again = manager_client.post(PAGE, {"file": SimpleUploadedFile("copy.png", png_bytes())})
    assert again.status_code == 302 and MediaAsset.objects.count() == 1
    shown = manager_client.get(PAGE).content.decode()
    assert "already in the library" in shown


def test_a_refused_upload_says_why_and_keeps_nothing(manager_client):
    response = manager_client.post(
        PAGE, {"file": SimpleUploadedFile("page.html", b"<html><script>alert(1)</script>")}
    )
    assert response.status_code == 200
    assert b"upload_type_refused" in response.content
    assert not MediaAsset.objects.exists()


def test_delete_with_confirmation_form(manager_client):
    asset = asset_make()
    response = manager_client.post(f"/staff/media/{asset.pk}/delete/")
    assert response.status_code == 302 and not MediaAsset.objects.exists()


def test_files_are_served_inline_only_for_images_and_never_sniffed(manager_client):
    image, brochure = asset_make(), asset_make("brochure.pdf", PDF)
    shown = manager_client.get(f"/staff/media/{image.pk}/file/")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/png"
    assert shown["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in shown["Content-Security-Policy"]
    assert shown["Content-Disposition"].startswith("inline")
    download = manager_client.get(f"/staff/media/{brochure.pk}/file/")
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment")
    assert 'filename="brochure.pdf"' in download["Content-Disposition"]
    # A row that claims HTML (never made by an upload) is still a download, not a page.
    forged = MediaAsset.objects.create(
        name="x.html", mime_type="text/html", kind="document", size=10, sha256="0" * 64
    )
    forged.file.save("x.html", ContentFile(b"<script>alert(1)</script>"), save=True)
    served = manager_client.get(f"/staff/media/{forged.pk}/file/")
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"].startswith("attachment")


def test_permissions(client, make_user):
    asset = asset_make()
    urls = [PAGE, f"/staff/media/{asset.pk}/file/"]
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to the sign-in page
    client.force_login(make_user("Content reviewer"))
    for url in urls:
        assert client.get(url).status_code == 403
    client.force_login(make_user("Analyst"))  # reads, never writes
    assert client.get(PAGE).status_code == 200
    assert b"media-upload-form" not in client.get(PAGE).content
    refused = client.post(PAGE, {"file": SimpleUploadedFile("a.png", png_bytes(seed=5))})
    assert refused.status_code == 403
    assert client.post(f"/staff/media/{asset.pk}/delete/").status_code == 403
    client.force_login(make_user("Agent"))  # adds, never deletes
    assert client.post(f"/staff/media/{asset.pk}/delete/").status_code == 403
    assert MediaAsset.objects.count() == 1


def test_the_inbox_sends_a_library_file(client, make_user, channel, simulator):
    from messaging.models import Message
    from messaging.sending.dispatch import send_batch_run
    from tests.factories import ContactFactory, window_open

    agent = make_user("Agent")
    client.force_login(agent)
    contact = ContactFactory()
    conversation = window_open(contact, channel)
    brochure = asset_make("brochure.pdf", PDF)
    thread = client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="library-form"' in thread and "brochure.pdf (document)" in thread
    url = f"/staff/inbox/{conversation.pk}/reply/library/"
    response = client.post(url, {"asset": brochure.pk, "caption": "Our offer"})
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.content == {"asset": brochure.pk, "caption": "Our offer"}
    shown = client.get(f"/staff/inbox/{conversation.pk}/").content.decode()
    assert f'href="/staff/media/{brochure.pk}/file/"' in shown  # the thread links the file
    client.post(url, {"asset": brochure.pk})
    send_batch_run(channel_id=channel.pk, max_seconds=5)
    assert len(simulator.state.media) == 1  # two replies, one upload
    bodies = [m["body"] for m in simulator.state.list_messages()]
    assert {b["id"] for b in bodies} == {message.media_id}
    assert all(b["filename"] == "brochure.pdf" for b in bodies)
    client.force_login(make_user("Content reviewer"))
    assert client.post(url, {"asset": brochure.pk}).status_code == 403


def test_the_demo_seeds_the_library_once(manager_client):
    from messaging.media.demo import seed_media

    assert seed_media() == {"library_files": 3}
    assert seed_media() == {"library_files": 0}
    kinds = sorted(MediaAsset.objects.values_list("kind", flat=True))
    assert kinds == ["document", "image", "image"]
    page = manager_client.get(PAGE).content.decode()
    assert "product-banner.png" in page and "price-list.pdf" in page
