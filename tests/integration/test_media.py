"""The media library end to end: real worker processes, Redis, PostgreSQL, the simulator.

A file is uploaded to the number once however many messages (and workers) send it; once
its id expires, the next send uploads it again and uses the new id."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from messaging.media.models import MediaUpload
from messaging.media.services import media_asset_create
from messaging.models import Message, Status
from messaging.providers.simulator.media import png_bytes
from messaging.sending.send import message_send
from tests.factories import ChannelFactory, ContactFactory, window_open
from tests.integration.conftest import wait_for


@pytest.fixture
def media_env(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return {"TEST_MEDIA_ON_DISK": "1", "MEDIA_ROOT": str(settings.MEDIA_ROOT)}


@pytest.fixture
def live_channel(transactional_db, simulator, settings):
    settings.WHATSAPP_API_TOKEN = "simulator-token"
    return ChannelFactory(base_url=simulator.url, throughput_mps=200)


def send_image(channel, asset, n: int) -> list[Message]:
    messages = []
    content = {"asset": asset.pk, "caption": "Spring offer"}
    for _ in range(n):
        contact = ContactFactory()
        window_open(contact, channel)
        message = message_send(channel=channel, contact=contact, type="image", content=content)
        messages.append(message)
    return messages


def accepted(messages) -> bool:
    ids = [m.pk for m in messages]
    return Message.objects.filter(pk__in=ids, status=Status.ACCEPTED).count() == len(ids)


def test_upload_once_reuse_then_upload_again_after_expiry(
    live_channel, simulator, celery_worker, media_env
):
    asset, _ = media_asset_create(upload=SimpleUploadedFile("offer.png", png_bytes(seed=7)))
    first = send_image(live_channel, asset, 12)  # queued before any worker runs
    celery_worker("media-1", queues="send", concurrency=2, **media_env)
    celery_worker("media-2", queues="send", concurrency=2, **media_env)
    wait_for(lambda: accepted(first), timeout=45)

    assert len(simulator.state.media) == 1, "two workers uploaded the same file"
    (media_id,) = simulator.state.media
    assert simulator.state.media[media_id].content == png_bytes(seed=7)
    assert set(Message.objects.filter(pk__in=[m.pk for m in first]).values_list(
        "media_id", flat=True)) == {media_id}  # fmt: skip
    bodies = [m["body"] for m in simulator.state.list_messages()]
    assert len(bodies) == 12 and all(
        b == {"id": media_id, "caption": "Spring offer"} for b in bodies
    )
    assert set(simulator.counts().values()) == {1}

    second = send_image(live_channel, asset, 2)  # the id is fresh: reused
    wait_for(lambda: accepted(second), timeout=30)
    assert len(simulator.state.media) == 1

    MediaUpload.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    third = send_image(live_channel, asset, 3)
    wait_for(lambda: accepted(third), timeout=30)
    assert len(simulator.state.media) == 2
    (renewed,) = set(simulator.state.media) - {media_id}
    assert set(Message.objects.filter(pk__in=[m.pk for m in third]).values_list(
        "media_id", flat=True)) == {renewed}  # fmt: skip
    upload = MediaUpload.objects.get()
    assert upload.media_id == renewed and upload.uploads == 2
    assert upload.expires_at > timezone.now() + timedelta(days=29)
    for message in first:  # the stored bodies still name the asset, not an id
        message.refresh_from_db()
        assert message.content == {"asset": asset.pk, "caption": "Spring offer"}
