"""Template header examples from the library: Meta's resumable upload, against the simulator."""

import pytest

from messaging.media.rules import MediaRefused
from messaging.media.services import media_header_example
from messaging.providers import AuthError, PermanentError
from messaging.providers.meta_cloud import MetaCloudProvider
from tests.factories import ChannelFactory
from tests.messaging.media.support import PDF, asset_make

pytestmark = pytest.mark.django_db


def test_a_library_file_becomes_a_header_example_handle(channel, simulator, settings):
    settings.WHATSAPP_APP_ID = "700000000000001"
    brochure = asset_make("brochure.pdf", PDF)
    component = media_header_example(asset=brochure, channel=channel)
    handle = component["example"]["header_handle"][0]
    assert component["type"] == "HEADER" and component["format"] == "DOCUMENT"
    stored = simulator.state.header_handles[handle]
    assert stored.content == PDF and stored.mime_type == "application/pdf"
    assert stored.filename == "brochure.pdf"
    assert not simulator.state.media  # a handle is not a media id
    assert not simulator.state.upload_sessions  # the session was used up


def test_without_the_app_id_or_for_audio_it_says_why(channel, simulator, settings):
    settings.WHATSAPP_APP_ID = ""
    with pytest.raises(PermanentError, match="WHATSAPP_APP_ID"):
        media_header_example(asset=asset_make(), channel=channel)
    settings.WHATSAPP_APP_ID = "700000000000001"
    voice = asset_make("voice.ogg", b"OggS" + b"\x00" * 40)
    with pytest.raises(MediaRefused, match="cannot show audio"):
        media_header_example(asset=voice, channel=channel)
    assert not simulator.state.header_handles


def test_a_provider_without_examples_refuses(settings):
    settings.MYOPERATOR_API_KEY = "key"
    settings.MYOPERATOR_COMPANY_ID = "company"
    channel = ChannelFactory(provider="myoperator", phone_number_id="myop-2", name="MyOperator")
    with pytest.raises(PermanentError, match="header examples"):
        media_header_example(asset=asset_make(), channel=channel)


def test_the_simulator_checks_the_upload_like_graph(simulator):
    good = MetaCloudProvider(
        phone_number_id="1", access_token="simulator-token", graph_url=simulator.url,
        app_id="700000000000001",
    )  # fmt: skip
    assert good.upload_header_example(b"\x89PNG....", mime_type="image/png").startswith("4::")
    wrong_token = MetaCloudProvider(
        phone_number_id="1", access_token="nope", graph_url=simulator.url, app_id="7"
    )
    with pytest.raises(AuthError):
        wrong_token.upload_header_example(b"x", mime_type="image/png")
