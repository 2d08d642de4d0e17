"""The audit log page in a real browser, at phone and laptop widths: no horizontal overflow."""

import pytest
from playwright.sync_api import expect

from core.audit import audit_record
from core.audit_context import audit_context_for
from tests.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1366])
def test_the_audit_log_reads_and_filters_without_overflow(
    width, make_user, page, login, live_server, screenshot
):
    admin = make_user("Admin", username="boss")
    contact = ContactFactory(name="A rather long name " * 6)
    with audit_context_for(user=admin, address="2001:db8:85a3::8a2e:370:7334"):
        contact.name = "Renamed-with-a-long-unbroken-value-" * 4
        contact.save()
        audit_record("export", details={"what": "contacts", "filters": {"q": "x" * 120}})
    page.set_viewport_size({"width": width, "height": 800})
    login("boss")
    page.goto(f"{live_server.url}/staff/audit/")
    expect(page.get_by_test_id("audit-changes").first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow
    screenshot(f"audit-log-{width}")

    page.select_option("#id_action", "update")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("audit-event")).to_have_count(1)
    expect(page.get_by_test_id("audit-action")).to_have_text("Changed")

    page.fill("#id_object_type", "nope.nothing")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("audit-form-error")).to_be_visible()
    assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
