"""The daily operations board and its registry."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.ops import board as ops_board
from analytics.ops.board import BoardRow, board_build, board_register
from messaging.models import Status
from tests.factories import AppErrorFactory, JobRunFactory, MessageFactory, OpsWebhookEventFactory

pytestmark = pytest.mark.django_db


def section(board, name):
    rows = next(s for s in board["sections"] if s["name"] == name)["rows"]
    return {r.label: r.value for r in rows}


def test_board_counts_today(settings):
    yesterday = timezone.now() - timedelta(days=1, hours=1)
    MessageFactory(status=Status.DELIVERED)
    MessageFactory(status=Status.READ)
    MessageFactory(status=Status.ACCEPTED)
    MessageFactory(status=Status.FAILED)
    MessageFactory(status=Status.QUEUED)
    MessageFactory(status=Status.FAILED, created_at=yesterday)
    MessageFactory(direction="in", status=Status.RECEIVED, type="text")
    MessageFactory(direction="in", status=Status.RECEIVED, type="button")
    OpsWebhookEventFactory(state="failed")
    JobRunFactory(state="failed")
    AppErrorFactory()
    board = board_build()
    assert section(board, "messages") == {
        "Sent": 3,
        "Delivered or read": 2,
        "Failed": 1,
        "Waiting (queued, sending, unknown)": 1,
        "Cancelled before sending": 0,
    }
    assert section(board, "inbound") == {"Messages received": 2, "Button and list replies": 1}
    assert section(board, "webhooks")["Failed processing"] == 1
    assert section(board, "jobs")["Failed"] == 1
    assert section(board, "app_errors") == {"Application errors": 1}
    assert section(board, "imports")["Imports started"] == 0


def test_imports_come_from_crm_when_it_has_them():
    from django.apps import apps

    import_job = apps.get_model("crm", "ImportJob")
    import_job.objects.create(original_name="a.csv", format="csv", status="failed")
    assert section(board_build(), "imports")["Failed"] == 1


@pytest.fixture
def extra_section():
    yield
    ops_board._REGISTRY.pop("extra", None)
    ops_board._REGISTRY.pop("broken", None)
    ops_board._REGISTRY.pop("secret", None)


def test_registering_a_section_is_one_call(extra_section, ops_client):
    board_register(
        "extra",
        lambda day: [
            BoardRow("Notifications", 7, url="/x/"),
            {"label": "Campaigns", "count": 2, "state": "warn"},
            ("Content", 3),
        ],
        title="Later",
        order=1,
    )

    def broken(day):
        raise RuntimeError("section bug")

    board_register("broken", broken, title="Broken")
    board_register("secret", lambda day: [("x", 1)], permission="auth.delete_user")
    board = board_build()
    assert board["sections"][0]["name"] == "extra"
    assert section(board, "extra") == {"Notifications": 7, "Campaigns": 2, "Content": 3}
    assert next(s for s in board["sections"] if s["name"] == "broken")["error"].startswith(
        "RuntimeError"
    )
    assert "secret" not in [s["name"] for s in board["sections"]]  # no user: hidden
    html = ops_client.get(reverse("ops:board")).content.decode()
    assert 'data-testid="board-extra"' in html and "Could not load: RuntimeError" in html
    assert 'data-testid="board-secret"' in html  # Admin has every permission
    assert 'href="/x/"' in html
