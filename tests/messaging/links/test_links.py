"""Tracked links: wrapping, the public redirect, click recording, no open redirect."""

import pytest

from messaging.links.services import (
    InvalidLink,
    TrackedLinkBatch,
    link_wrap,
    links_wrap_text,
)
from messaging.models import LinkClick, TrackedLink
from messaging.signals import link_clicked
from tests.factories import ContactFactory, ContentItemFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126 Mobile Safari/537.36"


def token_of(short_url: str) -> str:
    return short_url.rsplit("/", 1)[-1]


def test_link_wrap_stores_the_url_and_its_context(settings):
    settings.PUBLIC_BASE_URL = "https://go.example.com/"
    contact = ContactFactory()
    item = ContentItemFactory()
    short = link_wrap(url="https://shop.example.com/p/1?ref=wa", contact=contact, content_item=item)
    assert short.startswith("https://go.example.com/l/")
    link = TrackedLink.objects.get(token=token_of(short))
    assert link.url == "https://shop.example.com/p/1?ref=wa"
    assert link.contact == contact and link.content_item == item
    assert len(link.token) >= 11


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://files.example.com/x", "//evil.example.com", "not a url"]
)
def test_only_http_links_can_be_wrapped(url):
    with pytest.raises(InvalidLink):
        link_wrap(url=url)
    assert not TrackedLink.objects.exists()


def test_links_wrap_text_replaces_every_url_and_keeps_punctuation():
    text = "Read https://a.example.com/x. Also (see https://b.example.com/y), or mail us."
    wrapped = links_wrap_text(text)
    assert "a.example.com" not in wrapped and "b.example.com" not in wrapped
    assert wrapped.count("/l/") == 2
    assert ". Also (see " in wrapped and "), or mail us." in wrapped
    assert set(TrackedLink.objects.values_list("url", flat=True)) == {
        "https://a.example.com/x",
        "https://b.example.com/y",
    }
    assert links_wrap_text("No links here.") == "No links here."


def test_batch_wraps_without_queries_then_saves_in_one_insert(django_assert_num_queries):
    contacts = ContactFactory.create_batch(3)
    batch = TrackedLinkBatch()
    with django_assert_num_queries(0):
        urls = [batch.wrap(url="https://shop.example.com/sale", contact=c) for c in contacts]
    assert len(set(urls)) == 3
    with django_assert_num_queries(1):
        assert batch.save() == 3
    assert TrackedLink.objects.filter(url="https://shop.example.com/sale").count() == 3


def test_redirect_records_the_click_and_sends_the_signal(
    client, django_capture_on_commit_callbacks
):
    contact = ContactFactory()
    short = link_wrap(url="https://shop.example.com/p/1", contact=contact)
    heard = []

    def receiver(sender, link, click, **kwargs):
        heard.append((link.pk, click.pk))

    link_clicked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.get(
                f"/l/{token_of(short)}", HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.7"
            )
    finally:
        link_clicked.disconnect(receiver)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/p/1"
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    click = LinkClick.objects.get()
    assert click.user_agent == BROWSER and not click.is_bot
    assert click.ip_hash and "203.0.113.7" not in click.ip_hash and len(click.ip_hash) == 64
    assert heard == [(click.link_id, click.pk)]


def test_preview_fetchers_are_marked_and_head_is_not_a_click(client):
    short = link_wrap(url="https://shop.example.com/p/2")
    client.get(f"/l/{token_of(short)}", HTTP_USER_AGENT="WhatsApp/2.24.1 A")
    assert LinkClick.objects.get().is_bot
    assert client.head(f"/l/{token_of(short)}").status_code == 302
    assert LinkClick.objects.count() == 1
    client.get(f"/l/{token_of(short)}", HTTP_USER_AGENT="x" * 1000)
    assert len(LinkClick.objects.order_by("-id").first().user_agent) == 300


def test_unknown_token_is_404_and_the_target_never_comes_from_the_request(client):
    assert client.get("/l/doesnotexist").status_code == 404
    short = link_wrap(url="https://shop.example.com/ok")
    response = client.get(f"/l/{token_of(short)}?next=https://evil.example.com/")
    assert response["Location"] == "https://shop.example.com/ok"
    assert client.post(f"/l/{token_of(short)}").status_code == 405
    assert client.get("/l/../admin/").status_code == 404
