"""The staff template builder (/staff/templates/new/, .../<pk>/, edit, submit, delete): fields
to Meta's components, rule problems on the fields they name, submission to the simulator,
history; and who may do what (anonymous and roles without the permission refused)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.channels.forms import TemplateBuilder
from messaging.channels.models import MessageTemplate, TemplateStatus

pytestmark = pytest.mark.django_db

NEW = "/staff/templates/new/"


def form_data(channel, **overrides):
    data = {
        "channel": channel.pk,
        "name": "spring_sale",
        "language": "en",
        "category": "MARKETING",
        "header_format": "TEXT",
        "header_text": "Spring sale for {{1}}",
        "header_example": "Asha",
        "header_handle": "",
        "body": "Hello {{1}}, our spring sale ends on {{2}}: take 20% off today.",
        "body_examples": "Asha\nFriday 14 March",
        "footer": "Tap Stop promotions to opt out",
        "buttons-TOTAL_FORMS": "10",
        "buttons-INITIAL_FORMS": "0",
        "buttons-MIN_NUM_FORMS": "0",
        "buttons-MAX_NUM_FORMS": "10",
    }
    rows = [
        ("URL", "Shop now", "https://shop.example.com/sale/{{1}}",
         "https://shop.example.com/sale/spring"),
        ("COPY_CODE", "", "SPRING20", ""),
        ("QUICK_REPLY", "Remind me", "", ""),
        ("MARKETING_OPT_OUT", "", "", ""),
    ]  # fmt: skip
    for i in range(10):
        kind, text, value, example = rows[i] if i < len(rows) else ("", "", "", "")
        data.update({f"buttons-{i}-type": kind, f"buttons-{i}-text": text,
                     f"buttons-{i}-value": value, f"buttons-{i}-example": example})  # fmt: skip
    data.update(overrides)
    return data


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user("Campaign manager"))
    return client


def test_the_builder_page_has_every_part_and_the_preview_script(manager, channel):
    page = manager.get(NEW)
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("header_format", "header_text", "body", "body_examples", "footer",
                 "buttons-9-type", "data-preview-body", "js/templates.js"):  # fmt: skip
        assert name in html
    assert "<script>" not in html  # CSP: no inline scripts


def test_saving_a_draft_builds_metas_components(manager, channel, simulator):
    response = manager.post(NEW, form_data(channel))
    template = MessageTemplate.objects.get(name="spring_sale")
    assert response.status_code == 302 and response["Location"] == reverse(
        "messaging:template-detail", args=[template.pk]
    )
    assert template.status == TemplateStatus.DRAFT and template.authored_in_parley
    header, body, footer, buttons = template.components
    assert header == {"type": "HEADER", "format": "TEXT", "text": "Spring sale for {{1}}",
                      "example": {"header_text": ["Asha"]}}  # fmt: skip
    assert body["example"] == {"body_text": [["Asha", "Friday 14 March"]]}
    assert footer == {"type": "FOOTER", "text": "Tap Stop promotions to opt out"}
    assert buttons["buttons"] == [
        {"type": "URL", "text": "Shop now", "url": "https://shop.example.com/sale/{{1}}",
         "example": ["https://shop.example.com/sale/spring"]},
        {"type": "COPY_CODE", "example": "SPRING20"},
        {"type": "QUICK_REPLY", "text": "Remind me"},
        {"type": "QUICK_REPLY", "text": "Stop promotions"},
    ]  # fmt: skip
    assert template.opt_out_buttons == [{"index": "3", "text": "Stop promotions"}]
    assert [t for t in simulator.state.templates_snapshot() if t["name"] == "spring_sale"] == []
    detail = manager.get(response["Location"]).content.decode()
    assert "Submit to Meta" in detail and "Created in Parley" in detail


def test_rule_problems_come_back_on_their_fields(manager, channel):
    data = form_data(
        channel, name="Spring Sale", body_examples="Asha",
        **{"buttons-0-value": "https://shop.example.com/{{1}}/x",
           "buttons-2-type": "URL", "buttons-2-value": "ftp://x"},
    )  # fmt: skip
    response = manager.post(NEW, data)
    assert response.status_code == 422
    html = response.content.decode()
    assert "lower-case letters" in html  # name
    assert "Give an example for {{2}}" in html  # body examples
    assert "at its very end" in html  # button row 0
    assert "starts with https://" in html  # button row 2
    assert "Keep the quick replies together" not in html
    assert not MessageTemplate.objects.filter(language="en", name__icontains="spring").exists()


def test_an_opt_out_button_needs_a_marketing_template(manager, channel):
    response = manager.post(NEW, form_data(channel, category="UTILITY"))
    assert response.status_code == 422
    assert "for MARKETING templates" in response.content.decode()


def test_save_and_submit_sends_it_for_review_and_the_history_shows_it(manager, channel, simulator):
    response = manager.post(NEW, {**form_data(channel), "submit": "1"})
    template = MessageTemplate.objects.get(name="spring_sale")
    assert template.status == TemplateStatus.PENDING and template.external_id
    [remote] = [t for t in simulator.state.templates_snapshot() if t["name"] == "spring_sale"]
    assert remote["components"] == template.components
    html = manager.get(response["Location"]).content.decode()
    assert "Submitted to Meta" in html and "DRAFT → PENDING" in html


def test_editing_a_draft_round_trips_every_field(manager, channel):
    manager.post(NEW, form_data(channel))
    template = MessageTemplate.objects.get(name="spring_sale")
    builder = TemplateBuilder(template=template, channels=None)
    initial = builder.form.initial
    assert initial["body_examples"] == "Asha\nFriday 14 March"
    assert [row["type"] for row in builder.buttons.initial] == [
        "URL", "COPY_CODE", "QUICK_REPLY", "MARKETING_OPT_OUT",
    ]  # fmt: skip
    edit = reverse("messaging:template-edit", args=[template.pk])
    assert manager.get(edit).status_code == 200
    response = manager.post(edit, form_data(channel, footer="Opt out any time"))
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.components[2]["text"] == "Opt out any time"
    assert template.events.filter(kind="changed").count() == 1


def test_editing_an_approved_template_resubmits_it(manager, channel, simulator):
    simulator.configure(template_review_delay=0)  # Meta approved it at once
    manager.post(NEW, {**form_data(channel), "submit": "1"})
    template = MessageTemplate.objects.get(name="spring_sale")
    MessageTemplate.objects.filter(pk=template.pk).update(status=TemplateStatus.APPROVED)
    edit = reverse("messaging:template-edit", args=[template.pk])
    page = manager.get(edit).content.decode()
    assert "Submit the edit to Meta" in page and "disabled" in page
    data = form_data(channel, body="Hi {{1}}, our spring sale ends on {{2}}: take 25% off today.")
    data.pop("name")  # disabled fields are not posted
    assert manager.post(edit, data).status_code == 302
    template.refresh_from_db()
    assert template.status == TemplateStatus.PENDING
    [remote] = [t for t in simulator.state.templates_snapshot() if t["name"] == "spring_sale"]
    assert "25% off" in remote["components"][1]["text"]


def test_a_refused_edit_is_shown_and_changes_nothing(manager, channel, simulator):
    simulator.configure(template_review_delay=60)  # still under review at Meta
    manager.post(NEW, {**form_data(channel), "submit": "1"})
    template = MessageTemplate.objects.get(name="spring_sale")
    MessageTemplate.objects.filter(pk=template.pk).update(status=TemplateStatus.APPROVED)
    edit = reverse("messaging:template-edit", args=[template.pk])
    data = form_data(channel, footer="Something else")
    data.pop("name")
    response = manager.post(edit, data)
    assert response.status_code == 422
    assert "can&#x27;t be edited" in response.content.decode()
    template.refresh_from_db()
    assert template.components[2]["text"] == "Tap Stop promotions to opt out"
    assert template.events.filter(kind="submit_failed").exists()


def test_deleting_a_draft_removes_it(manager, channel):
    manager.post(NEW, form_data(channel))
    template = MessageTemplate.objects.get(name="spring_sale")
    response = manager.post(reverse("messaging:template-delete", args=[template.pk]))
    assert response.status_code == 302 and not MessageTemplate.objects.filter(pk=template.pk)


def test_the_list_links_each_template_and_offers_the_builder(manager, channel):
    html = manager.get("/staff/templates/").content.decode()
    template = MessageTemplate.objects.filter(channel=channel).first()
    assert reverse("messaging:template-detail", args=[template.pk]) in html
    assert 'data-testid="template-new"' in html


def test_anonymous_visitors_are_sent_to_sign_in(client, channel):
    template = MessageTemplate.objects.filter(channel=channel).first()
    for url in (NEW, reverse("messaging:template-detail", args=[template.pk])):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    response = client.post(reverse("messaging:template-submit", args=[template.pk]))
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["Analyst", "Agent", "Content reviewer"])
def test_read_only_roles_see_templates_but_cannot_build_submit_or_delete(
    client, make_user, channel, role
):
    client.force_login(make_user(role))
    template = MessageTemplate.objects.filter(channel=channel).first()
    detail = client.get(reverse("messaging:template-detail", args=[template.pk]))
    assert detail.status_code == 200
    assert "Edit" not in detail.content.decode().split("<h2>History")[0].split("All templates")[1]
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, form_data(channel)).status_code == 403
    assert client.get(reverse("messaging:template-edit", args=[template.pk])).status_code == 403
    for name in ("template-submit", "template-delete"):
        assert client.post(reverse(f"messaging:{name}", args=[template.pk])).status_code == 403
    assert 'data-testid="template-new"' not in client.get("/staff/templates/").content.decode()
