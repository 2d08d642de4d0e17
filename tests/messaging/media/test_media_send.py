"""Library files on the send path: one upload per number, reused until it nears expiry, then
uploaded again; the stored body keeps the reference, the provider gets the id."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from core.errors import Conflict
from messaging.campaigns.mapping import mapping_content
from messaging.channels.clients import provider_for_channel
from messaging.media.models import MediaAsset, MediaUpload
from messaging.media.services import (
    media_asset_delete,
    media_id_for,
    media_ids_renew,
    media_upload,
)
from messaging.models import Campaign, Lane, Message, Status
from messaging.providers import PermanentError, TemporaryError
from messaging.sending.dispatch import Outcomes, _media_resolve, messages_claim, send_batch_run
from messaging.sending.policy import SendRefused
from messaging.sending.send import message_send
from tests.factories import ChannelFactory, ContactFactory, TemplateFactory, window_open
from tests.messaging.media.support import PDF, asset_make

pytestmark = pytest.mark.django_db


def send(channel, asset, *, kind="image", **extra):
    contact = ContactFactory()
    window_open(contact, channel)
    return message_send(
        channel=channel, contact=contact, type=kind, content={"asset": asset.pk, **extra}
    )


def drain(channel):
    for _ in range(10):
        send_batch_run(channel_id=channel.pk, max_seconds=5)
        if not Message.objects.filter(status=Status.QUEUED).exists():
            return


def test_one_upload_serves_many_sends_and_the_body_keeps_the_reference(channel, simulator):
    asset = asset_make()
    first = send(channel, asset, caption="Today")
    second = send(channel, asset)
    assert first.content == {"asset": asset.pk, "caption": "Today"}
    drain(channel)
    first.refresh_from_db()
    second.refresh_from_db()
    assert {first.status, second.status} == {Status.ACCEPTED}
    assert len(simulator.state.media) == 1
    media_id = next(iter(simulator.state.media))
    assert first.media_id == second.media_id == media_id
    bodies = [m["body"] for m in simulator.state.list_messages()]  # sent concurrently
    assert sorted(bodies, key=len) == [{"id": media_id}, {"id": media_id, "caption": "Today"}]
    assert first.content == {"asset": asset.pk, "caption": "Today"}  # stored as sent by us
    upload = MediaUpload.objects.get()
    assert upload.uploads == 1
    assert upload.expires_at - upload.uploaded_at == timedelta(days=30)
    assert MediaAsset.objects.get().last_used_at is not None


def test_an_id_near_or_past_its_expiry_is_uploaded_again(channel, simulator, settings):
    settings.MEDIA_ID_RENEW_MARGIN_HOURS = 24
    asset = asset_make()
    old = media_id_for(asset=asset, channel=channel)
    MediaUpload.objects.update(expires_at=timezone.now() + timedelta(hours=23))  # in the margin
    message = send(channel, asset)
    drain(channel)
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED and message.media_id != old
    assert len(simulator.state.media) == 2
    upload = MediaUpload.objects.get()
    assert upload.media_id == message.media_id and upload.uploads == 2
    assert upload.expires_at > timezone.now() + timedelta(days=29)
    # Still fresh: the same id again, no upload.
    assert media_id_for(asset=asset, channel=channel) == message.media_id
    assert len(simulator.state.media) == 2


def test_each_number_has_its_own_id(channel, simulator):
    other = ChannelFactory(
        phone_number_id="200000000000009", base_url=simulator.url, name="Second number"
    )
    asset = asset_make()
    one = media_id_for(asset=asset, channel=channel)
    two = media_id_for(asset=asset, channel=other)
    assert one != two and MediaUpload.objects.count() == 2


def test_a_sender_waits_for_the_upload_another_holds(channel, simulator, settings):
    """Two senders at once: the second finds the lock taken, waits, and uses the first's id
    (here the 'first' finishes while the second waits)."""
    settings.MEDIA_UPLOAD_LOCK_SECONDS = 1
    asset = asset_make()
    key = f"media-upload:{asset.pk}:{channel.pk}"
    cache.add(key, "another-sender", timeout=30)
    try:
        with pytest.raises(TemporaryError, match="being uploaded"):
            media_id_for(asset=asset, channel=channel)  # nobody finished within the wait
        assert not simulator.state.media  # it never uploaded behind the holder's back
        done = media_upload(asset=asset, channel=channel)  # the holder finishes
        assert media_id_for(asset=asset, channel=channel) == done.media_id
    finally:
        cache.delete(key)
    assert len(simulator.state.media) == 1


def test_an_older_upload_never_replaces_a_newer_id(channel, simulator):
    asset = asset_make()
    newer = media_upload(asset=asset, channel=channel)
    MediaUpload.objects.update(uploaded_at=timezone.now() + timedelta(minutes=5))
    media_upload(asset=asset, channel=channel)  # finished "earlier" than the row's upload
    assert MediaUpload.objects.get().media_id == newer.media_id


def test_a_document_goes_with_its_file_name_unless_the_sender_named_it(channel, simulator):
    brochure = asset_make("Spring brochure.pdf", PDF)
    plain = send(channel, brochure, kind="document")
    send(channel, brochure, kind="document", filename="Offer.pdf")
    drain(channel)
    bodies = {m["body"].get("filename") for m in simulator.state.list_messages()}
    assert bodies == {"Spring brochure.pdf", "Offer.pdf"}
    assert plain.content == {"asset": brochure.pk}


def test_refused_before_queueing_when_the_asset_does_not_fit(channel):
    image = asset_make()
    with pytest.raises(SendRefused) as error:
        send(channel, image, kind="video")
    assert error.value.code == "media_asset_kind"
    with pytest.raises(SendRefused) as error:
        send(channel, type("Gone", (), {"pk": 999999})())
    assert error.value.code == "media_asset_unknown"
    with pytest.raises(SendRefused) as error:
        send(channel, type("Bad", (), {"pk": "not-an-id"})())
    assert error.value.code == "media_asset_unknown"
    with pytest.raises(SendRefused) as error:  # the rest of the body is still checked
        send(channel, type("Sticker", (), {"pk": image.pk})(), caption="x" * 2000)
    assert error.value.code == "invalid_message"
    assert not Message.objects.exists()


def test_a_file_deleted_while_its_message_waited_fails_that_message_clearly(channel, simulator):
    asset = asset_make()
    message = send(channel, asset)
    media_asset_delete(asset=asset)
    drain(channel)
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "deleted" in message.error_title and not simulator.state.list_messages()


def test_an_upload_that_cannot_connect_is_retried_not_failed(settings):
    settings.WHATSAPP_API_TOKEN = "simulator-token"
    channel = ChannelFactory(base_url="http://127.0.0.1:9", throughput_mps=100)  # refused
    asset = asset_make()
    message = send(channel, asset)
    send_batch_run(channel_id=channel.pk, max_seconds=2)
    message.refresh_from_db()
    assert message.status == Status.QUEUED and message.attempts == 1
    assert message.error_title and not MediaUpload.objects.exists()


def test_a_provider_without_uploads_fails_the_message_with_the_reason(settings):
    settings.MYOPERATOR_API_KEY = "key"
    settings.MYOPERATOR_COMPANY_ID = "company"
    channel = ChannelFactory(provider="myoperator", phone_number_id="myop-1", name="MyOperator")
    asset = asset_make()
    with pytest.raises(PermanentError, match="by link"):
        media_id_for(asset=asset, channel=channel)


def test_a_campaign_header_from_the_library_is_sent_by_id(channel, simulator):
    template = TemplateFactory(
        channel=channel, name="spring_offer",
        components=[{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Hi"}],
        parameters={"body": []},
    )  # fmt: skip
    asset = asset_make()
    content = mapping_content(
        template=template, mapping={"header_media_asset": asset.pk}, contact=ContactFactory()
    )
    header = content["components"][0]
    assert header == {
        "type": "header",
        "parameters": [{"type": "image", "image": {"asset": asset.pk}}],
    }
    campaign = Campaign.objects.create(
        name="Spring", channel=channel, template=template,
        parameter_mapping={"header_media_asset": asset.pk},
    )  # fmt: skip
    with pytest.raises(Conflict) as error:
        media_asset_delete(asset=asset)
    assert error.value.details == {"campaigns": ["Spring"]}
    Campaign.objects.filter(pk=campaign.pk).update(state="completed")
    media_asset_delete(asset=asset)
    assert not MediaAsset.objects.exists()


def test_renewal_uploads_again_the_ids_of_files_used_lately(channel, simulator, settings):
    settings.MEDIA_ID_RENEW_MARGIN_HOURS = 24
    settings.MEDIA_RENEW_USED_WITHIN_DAYS = 14
    used, idle, fresh = asset_make("a.png"), asset_make("b.png"), asset_make("c.png")
    for asset in (used, idle, fresh):
        media_id_for(asset=asset, channel=channel)
    now = timezone.now()
    MediaUpload.objects.filter(asset__in=[used, idle]).update(expires_at=now + timedelta(hours=40))
    MediaAsset.objects.filter(pk__in=[used.pk, fresh.pk]).update(last_used_at=now)
    MediaAsset.objects.filter(pk=idle.pk).update(last_used_at=now - timedelta(days=20))
    before = dict(MediaUpload.objects.values_list("asset_id", "media_id"))
    assert media_ids_renew() == {"renewed": 1, "failed": 0}
    after = dict(MediaUpload.objects.values_list("asset_id", "media_id"))
    assert after[used.pk] != before[used.pk]
    assert after[idle.pk] == before[idle.pk] and after[fresh.pk] == before[fresh.pk]
    assert len(simulator.state.media) == 4


def test_the_renewal_task_is_scheduled_and_runs(channel, simulator):
    from django_celery_beat.models import PeriodicTask

    from messaging.media.tasks import media_renew

    row = PeriodicTask.objects.get(task="messaging.media_renew")
    assert row.interval.every == 6 * 3600 and row.queue == "default" and row.enabled
    assert media_renew.apply().get() == {"renewed": 0, "failed": 0}


def test_a_batch_of_sends_costs_a_few_queries_not_a_few_per_message(
    channel, simulator, django_assert_max_num_queries
):
    asset = asset_make()
    media_id_for(asset=asset, channel=channel)
    for _ in range(30):
        send(channel, asset)
    claimed = messages_claim(channel_id=channel.pk, lane=Lane.PRIORITY, limit=100)
    assert len(claimed) == 30
    with django_assert_max_num_queries(5):
        kept = _media_resolve(channel, provider_for_channel(channel), claimed, Outcomes())
    assert len(kept) == 30 and {m.media_id for m in kept} == set(simulator.state.media)
    assert all(m.outbound_content["id"] == kept[0].media_id for m in kept)


def test_providers_say_whether_they_take_uploads():
    from messaging.providers.meta_cloud import MetaCloudProvider
    from messaging.providers.myoperator import MyOperatorProvider

    assert MetaCloudProvider.supports_media_upload
    provider = MyOperatorProvider(api_key="k", company_id="c", phone_number_id="p")
    assert not provider.supports_media_upload
    with pytest.raises(PermanentError, match="public link"):
        provider.upload_media(b"\x89PNG", mime_type="image/png")


def test_renewal_leaves_a_file_a_sender_is_uploading(channel, simulator):
    asset = asset_make()
    media_id_for(asset=asset, channel=channel)
    MediaUpload.objects.update(expires_at=timezone.now() + timedelta(hours=1))
    MediaAsset.objects.update(last_used_at=timezone.now())
    key = f"media-upload:{asset.pk}:{channel.pk}"
    cache.add(key, "a-sender", timeout=30)
    try:
        assert media_ids_renew() == {"renewed": 0, "failed": 0}
    finally:
        cache.delete(key)
    assert len(simulator.state.media) == 1
    assert media_ids_renew() == {"renewed": 1, "failed": 0}
