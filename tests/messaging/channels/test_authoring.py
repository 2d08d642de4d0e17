"""The authoring services against the simulator: what a lost answer, a provider that changes
the category, a provider without a template API and the hourly sync do to a template made in
Parley."""

from __future__ import annotations

import pytest

from messaging.channels import authoring
from messaging.channels.authoring import (
    TemplateSubmitFailed,
    template_create,
    template_submit,
)
from messaging.channels.models import MessageTemplate, TemplateStatus
from messaging.channels.templates import templates_sync
from messaging.providers import AmbiguousError, TemplateSubmission
from messaging.providers.meta_cloud import MetaCloudProvider
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

COMPONENTS = [
    {
        "type": "BODY",
        "text": "Hello {{first_name}}, your parcel {{parcel}} leaves our warehouse today.",
        "example": {
            "body_text_named_params": [
                {"param_name": "first_name", "example": "Asha"},
                {"param_name": "parcel", "example": "#40321"},
            ]
        },
    }
]


def draft(channel, name="parcel_update", category="UTILITY"):
    return template_create(
        channel=channel, name=name, language="en", category=category, components=COMPONENTS
    )


def test_a_named_draft_keeps_its_parameters_for_sending(channel):
    template = draft(channel)
    assert template.parameter_format == "named"
    assert template.parameters == {"header": [], "body": ["first_name", "parcel"], "buttons": {}}


def test_the_hourly_sync_leaves_drafts_alone_and_records_what_it_changes(channel, simulator):
    template = draft(channel)
    hello = MessageTemplate.objects.get(channel=channel, name="hello_world")
    simulator.state.set_template_status("hello_world", "en_US", "PAUSED")
    result = templates_sync(channel=channel)
    assert not result.errors and result.removed == 0
    template.refresh_from_db()
    assert template.status == TemplateStatus.DRAFT
    event = hello.events.get()
    assert (event.kind, event.source, event.status_from, event.status_to) == (
        "status", "sync", "APPROVED", "PAUSED",
    )  # fmt: skip


def test_a_submitted_template_the_provider_lost_is_found_by_the_sync(channel, simulator):
    template = template_submit(template=draft(channel))
    simulator.state.template_delete("parcel_update", None)  # gone at Meta
    templates_sync(channel=channel)
    template.refresh_from_db()
    assert template.status == TemplateStatus.DELETED
    assert template.events.filter(status_to="DELETED", source="sync").exists()


def test_a_lost_answer_is_recorded_and_queues_a_sync(
    channel, monkeypatch, django_capture_on_commit_callbacks
):
    def lost(self, **kwargs):
        raise AmbiguousError("template_create: read timed out")

    monkeypatch.setattr(MetaCloudProvider, "template_create", lost)
    queued = []
    monkeypatch.setattr(authoring, "templates_sync_enqueue", lambda: queued.append(1))
    template = draft(channel)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(TemplateSubmitFailed) as e:
        template_submit(template=template)
    assert e.value.code == "provider_answer_lost" and queued == [1]
    template.refresh_from_db()
    assert template.status == TemplateStatus.DRAFT
    assert "read timed out" in template.events.get(kind="submit_failed").reason


def test_a_category_meta_chose_on_submission_is_kept_and_recorded(channel, monkeypatch):
    def marketing(self, **kwargs):
        return TemplateSubmission(external_id="991", status="PENDING", category="MARKETING")

    monkeypatch.setattr(MetaCloudProvider, "template_create", marketing)
    template = template_submit(template=draft(channel))
    assert (template.category, template.external_id) == ("MARKETING", "991")
    event = template.events.get(kind="category")
    assert event.detail == {"previous": "UTILITY", "new": "MARKETING"}


def test_a_myoperator_number_says_it_cannot_take_templates(settings):
    settings.MYOPERATOR_API_KEY = "k"
    settings.MYOPERATOR_COMPANY_ID = "c"
    channel = ChannelFactory(
        phone_number_id="555", provider="myoperator", token_setting="MYOPERATOR_API_KEY",
        company_id_setting="MYOPERATOR_COMPANY_ID", base_url="https://publicapi.myoperator.co",
    )  # fmt: skip
    with pytest.raises(TemplateSubmitFailed, match="console"):
        template_submit(template=draft(channel))
    assert MessageTemplate.objects.get(channel=channel).status == TemplateStatus.DRAFT
