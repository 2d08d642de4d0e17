"""A template's media header example from the media library (README "Template builder"):
the builder's "Library file" and the API's `header_asset`, validated (exists, kind fits),
kept as a reference on the draft and resolved to a fresh upload handle at the simulator just
before the submission or edit; refusals leave the template a draft; with no library
registered, the pasted handle still works."""

from __future__ import annotations

import copy

import pytest
from django.urls import reverse

from messaging.channels import template_media
from messaging.channels.authoring import (
    TemplateInvalid,
    TemplateSubmitFailed,
    template_create,
    template_submit,
)
from messaging.channels.forms import TemplateBuilder
from messaging.channels.models import MessageTemplate, TemplateStatus
from messaging.media.services import media_asset_delete
from tests.messaging.channels.test_template_builder import NEW, form_data
from tests.messaging.media.support import MP4, PDF, asset_make

pytestmark = pytest.mark.django_db

LIST = "/api/v1/templates/"
BODY = {
    "type": "BODY",
    "text": "Hello {{1}}, your spring brochure is attached.",
    "example": {"body_text": [["Asha"]]},
}


def media_header(asset_id, header_format="IMAGE"):
    return {"type": "HEADER", "format": header_format, "example": {"header_asset": [asset_id]}}


def definition(header, name="spring_picture"):
    return {"name": name, "language": "en", "category": "UTILITY", "components": [header, BODY]}


def at_simulator(simulator, name):
    return [t for t in simulator.state.templates_snapshot() if t["name"] == name]


@pytest.fixture(autouse=True)
def app_id(settings):
    settings.WHATSAPP_APP_ID = "700000000000001"  # the simulator's resumable uploads need it


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


@pytest.fixture
def api_manager(api_client, make_user):
    api_client.force_authenticate(make_user("Campaign manager"))
    return api_client


@pytest.fixture
def no_library(monkeypatch):
    monkeypatch.setattr(template_media, "_sources", [])


def image_data(channel, **overrides):
    media = {"header_format": "IMAGE", "header_text": "", "header_example": ""}
    return form_data(channel, **{**media, **overrides})


# --- The builder ---------------------------------------------------------------------------


def test_the_builder_offers_library_files_by_kind_newest_first(manager, channel):
    older, newer = asset_make("older.png"), asset_make("newer.png")
    brochure = asset_make("brochure.pdf", PDF)
    html = manager.get(NEW).content.decode()
    assert 'name="header_asset"' in html and "Library file" in html
    images = html.split('label="Images"')[1].split("</optgroup>")[0]
    assert images.index("newer.png") < images.index("older.png")
    assert f'value="{newer.pk}"' in images and "brochure.pdf" not in images
    documents = html.split('label="Documents"')[1].split("</optgroup>")[0]
    assert f'value="{brochure.pk}"' in documents and older.name not in documents


def test_a_library_file_is_kept_as_a_reference_and_round_trips(manager, channel):
    picture = asset_make("spring.png")
    response = manager.post(NEW, image_data(channel, header_asset=picture.pk))
    assert response.status_code == 302
    template = MessageTemplate.objects.get(name="spring_sale")
    assert template.components[0] == media_header(picture.pk)
    builder = TemplateBuilder(template=template)
    assert builder.form.initial["header_asset"] == picture.pk
    assert builder.form.initial["header_format"] == "IMAGE"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "Choose the image Meta reviews"),
        ({"header_handle": "4::aGFuZGxl"}, "not both"),
        ({"header_format": "VIDEO"}, "is an image; this header shows a video"),
        ({"header_asset": "999999"}, "Select a valid choice"),
    ],
    ids=["missing", "both", "wrong-kind", "nonexistent"],
)
def test_a_media_header_needs_exactly_one_fitting_example(manager, channel, overrides, message):
    picture = asset_make("spring.png")
    data = image_data(channel, **{"header_asset": picture.pk, **overrides})
    if not overrides:
        data["header_asset"] = ""
    response = manager.post(NEW, data)
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert ("Choose the image" in html) == (not overrides)  # one error, the right one
    assert not MessageTemplate.objects.filter(name="spring_sale").exists()


def test_a_pasted_handle_alone_still_works(manager, channel):
    asset_make("spring.png")
    response = manager.post(NEW, image_data(channel, header_handle="4::aGFuZGxl"))
    assert response.status_code == 302
    template = MessageTemplate.objects.get(name="spring_sale")
    assert template.components[0]["example"] == {"header_handle": ["4::aGFuZGxl"]}


def test_submitting_uploads_the_file_as_a_fresh_handle_the_simulator_takes(
    manager, channel, simulator
):
    picture = asset_make("spring.png")
    response = manager.post(NEW, {**image_data(channel, header_asset=picture.pk), "submit": "1"})
    assert response.status_code == 302
    template = MessageTemplate.objects.get(name="spring_sale")
    assert template.status == TemplateStatus.PENDING and template.external_id
    [remote] = at_simulator(simulator, "spring_sale")
    header = remote["components"][0]
    assert header == {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [
        header["example"]["header_handle"][0]]}}  # fmt: skip
    stored = simulator.state.header_handles[header["example"]["header_handle"][0]]
    with picture.file.open("rb") as handle:
        assert stored.content == handle.read() and stored.filename == "spring.png"
    assert template.components[0] == media_header(picture.pk)  # the draft's choice is kept


def test_an_edit_at_meta_uploads_a_new_handle(manager, channel, simulator):
    simulator.configure(template_review_delay=0)
    picture, other = asset_make("spring.png"), asset_make("summer.png")
    manager.post(NEW, {**image_data(channel, header_asset=picture.pk), "submit": "1"})
    template = MessageTemplate.objects.get(name="spring_sale")
    MessageTemplate.objects.filter(pk=template.pk).update(status=TemplateStatus.APPROVED)
    first = at_simulator(simulator, "spring_sale")[0]["components"][0]["example"]
    edit = reverse("messaging:template-edit", args=[template.pk])
    data = image_data(channel, header_asset=other.pk)
    data.pop("name")  # disabled fields are not posted
    assert manager.post(edit, data).status_code == 302
    template.refresh_from_db()
    assert template.status == TemplateStatus.PENDING
    second = at_simulator(simulator, "spring_sale")[0]["components"][0]["example"]
    assert second["header_handle"] != first["header_handle"]
    with other.file.open("rb") as handle:
        assert simulator.state.header_handles[second["header_handle"][0]].content == handle.read()


# --- Submission refusals (the template stays a draft) --------------------------------------


def test_a_file_deleted_since_the_draft_refuses_the_submission(channel, simulator):
    picture = asset_make("spring.png")
    template = template_create(channel=channel, **definition(media_header(picture.pk)))
    media_asset_delete(asset=picture)
    with pytest.raises(TemplateInvalid, match="does not exist") as refused:
        template_submit(template=template)
    assert "header.example" in refused.value.details
    template.refresh_from_db()
    assert template.status == TemplateStatus.DRAFT and not template.external_id
    assert not at_simulator(simulator, "spring_picture")
    assert not simulator.state.header_handles


def test_a_provider_that_cannot_take_the_upload_refuses_the_submission(
    channel, simulator, settings
):
    picture = asset_make("spring.png")
    template = template_create(channel=channel, **definition(media_header(picture.pk)))
    settings.WHATSAPP_APP_ID = ""  # no Meta app to upload through
    with pytest.raises(TemplateSubmitFailed, match="WHATSAPP_APP_ID"):
        template_submit(template=template)
    template.refresh_from_db()
    assert template.status == TemplateStatus.DRAFT
    assert template.events.filter(kind="submit_failed").exists()
    assert not at_simulator(simulator, "spring_picture")


# --- The API -------------------------------------------------------------------------------


def test_the_api_takes_a_library_file_and_submission_resolves_it(api_manager, channel, simulator):
    brochure = asset_make("brochure.pdf", PDF)
    created = api_manager.post(
        LIST, definition(media_header(brochure.pk, "DOCUMENT")), format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["components"][0] == media_header(brochure.pk, "DOCUMENT")
    submitted = api_manager.post(f"{LIST}{created.json()['id']}/submit/")
    assert submitted.status_code == 200, submitted.json()
    [remote] = at_simulator(simulator, "spring_picture")
    handle = remote["components"][0]["example"]["header_handle"][0]
    assert simulator.state.header_handles[handle].content == PDF
    assert "header_asset" not in str(remote["components"])


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("video", "is a video; this header shows an image"),
        ("missing", "does not exist"),
        ("text", "list of one library file id"),
        ("both", "either a library file"),
    ],
)
def test_the_api_refuses_a_header_asset_that_cannot_serve(api_manager, channel, reference, message):
    clip = asset_make("clip.mp4", MP4)
    header = media_header({"video": clip.pk, "missing": 999999}.get(reference, clip.pk))
    if reference == "text":
        header["example"]["header_asset"] = [str(clip.pk)]
    if reference == "both":
        header["example"]["header_handle"] = ["4::aGFuZGxl"]
    response = api_manager.post(LIST, definition(header), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_template"
    assert any(message in m for m in error["details"]["header.example"])
    assert not MessageTemplate.objects.filter(name="spring_picture").exists()


def test_a_draft_patched_to_a_library_file_is_checked(api_manager, channel):
    picture, clip = asset_make("spring.png"), asset_make("clip.mp4", MP4)
    body = definition({"type": "HEADER", "format": "IMAGE",
                       "example": {"header_handle": ["4::aGFuZGxl"]}})  # fmt: skip
    pk = api_manager.post(LIST, body, format="json").json()["id"]
    components = copy.deepcopy(body["components"])
    components[0] = media_header(clip.pk)
    wrong = api_manager.patch(f"{LIST}{pk}/", {"components": components}, format="json")
    assert wrong.status_code == 400 and "header.example" in wrong.json()["error"]["details"]
    components[0] = media_header(picture.pk)
    good = api_manager.patch(f"{LIST}{pk}/", {"components": components}, format="json")
    assert good.status_code == 200, good.json()
    assert MessageTemplate.objects.get(pk=pk).components[0] == media_header(picture.pk)


def test_the_schema_documents_header_asset(api_manager):
    schema = api_manager.get("/api/schema/?format=json").content.decode()
    assert "header_asset" in schema


# --- Without a library ---------------------------------------------------------------------


def test_without_a_library_the_builder_takes_a_pasted_handle(
    manager, channel, simulator, no_library
):
    html = manager.get(NEW).content.decode()
    assert 'name="header_asset"' not in html and 'name="header_handle"' in html
    data = {**image_data(channel, header_handle="4::aGFuZGxl"), "submit": "1"}
    assert manager.post(NEW, data).status_code == 302
    [remote] = at_simulator(simulator, "spring_sale")
    assert remote["components"][0]["example"] == {"header_handle": ["4::aGFuZGxl"]}
    missing = manager.post(NEW, image_data(channel, name="other_sale"))
    assert missing.status_code == 422 and "needs one example" in missing.content.decode()


def test_without_a_library_a_header_asset_is_refused(channel, no_library):
    with pytest.raises(TemplateInvalid, match="no media library"):
        template_create(channel=channel, **definition(media_header(1)))
