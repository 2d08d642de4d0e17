"""Notification reads: event types and a contact's preferences, and the page that shows them."""

import pytest

from messaging.models import NotificationPreference, NotificationType
from messaging.notifications.selectors import notification_preferences, notification_type_list
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_preferences_are_every_type_by_name_in_two_queries(django_assert_num_queries):
    contact = ContactFactory()
    quiet = NotificationType.objects.get(code="we_miss_you")
    NotificationPreference.objects.create(contact=contact, event_type=quiet, opted_out=True)
    with django_assert_num_queries(2):
        preferences = notification_preferences(contact)
    names = [p["event_type"].name for p in preferences]
    assert names == sorted(names) == [t.name for t in notification_type_list()]
    assert [p["event_type"].code for p in preferences if p["opted_out"]] == ["we_miss_you"]


def test_the_preferences_page_of_an_unknown_contact_is_404(client, make_user):
    client.force_login(make_user("Campaign manager"))
    assert client.get("/staff/contacts/999999/notification-preferences/").status_code == 404
