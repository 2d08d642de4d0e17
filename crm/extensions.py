"""What crm pages and segment filters show about a contact's messages, supplied by another app.

crm sits below messaging and imports nothing of it, not even by reflection (DESIGN.md section 3).
The app that owns messages registers one `ContactMessaging` at `ready()`, the way apps register
their pages in `core.navigation`; crm reads only through `contact_messaging()`. With nothing
registered crm still works: no messages, no conversations, no channels to filter by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from django.db.models import Q

if TYPE_CHECKING:
    from crm.models import Contact


@dataclass(frozen=True)
class MessageRow:
    """One message as a crm page lists it: plain values, ready to render."""

    id: int
    created_at: datetime
    direction: Literal["in", "out"]
    type: str
    type_label: str
    status_label: str
    summary: str  # one line of what it said, whatever its type


@dataclass(frozen=True)
class MessageActivity:
    """How much was sent to a contact and how often they tapped something we sent."""

    received: int = 0
    clicked: int = 0


class ContactMessaging(Protocol):
    def recent_messages(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        """Messages either way with the contact, newest first."""
        ...

    def conversation_count(self, contact: Contact) -> int: ...

    def sent_messages(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        """What we sent the contact (content, campaigns, replies), newest first."""
        ...

    def clicks(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        """The contact's taps on buttons and list rows we sent, newest first."""
        ...

    def activity(self, contact: Contact) -> MessageActivity: ...

    def channel_choices(self) -> list[tuple[int, str]]:
        """(id, label) of the channels a segment may filter by."""
        ...

    def channel_q(self, channel_id: int) -> Q | None:
        """A Q over Contact: contacts with at least one message on the channel (one EXISTS).

        None when channels cannot be filtered by at all.
        """
        ...


class NoMessaging:
    """The default: nothing is registered, so there is nothing to show."""

    def recent_messages(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        return []

    def conversation_count(self, contact: Contact) -> int:
        return 0

    def sent_messages(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        return []

    def clicks(self, contact: Contact, *, limit: int) -> list[MessageRow]:
        return []

    def activity(self, contact: Contact) -> MessageActivity:
        return MessageActivity()

    def channel_choices(self) -> list[tuple[int, str]]:
        return []

    def channel_q(self, channel_id: int) -> Q | None:
        return None


_registered: ContactMessaging = NoMessaging()


def contact_messaging_register(extension: ContactMessaging) -> ContactMessaging:
    """Make `extension` what crm reads; returns the one it replaces (tests put it back)."""
    global _registered
    previous, _registered = _registered, extension
    return previous


def contact_messaging() -> ContactMessaging:
    return _registered


# --- Personal data held by other apps: erasure and the right of access -----------------------


@dataclass(frozen=True)
class PersonalData:
    """How an app that holds data about a contact erases it and exports it.

    `erase(contact)` runs inside the erasure's transaction, before crm empties the contact's
    own fields (so the identifiers are still there to find things by), and returns counts of
    what it removed. `export(contact)` returns JSON-ready data for the contact's export.
    """

    name: str
    erase: Callable[[Contact], dict[str, int]]
    export: Callable[[Contact], dict[str, Any]]
    order: int = 100


_personal_data: dict[str, PersonalData] = {}


def personal_data_register(
    name: str,
    *,
    erase: Callable[[Contact], dict[str, int]],
    export: Callable[[Contact], dict[str, Any]],
    order: int = 100,
) -> None:
    """Register (or replace) what app `name` holds about contacts (from its `ready()`)."""
    _personal_data[name] = PersonalData(name, erase, export, order)


def personal_data_sections() -> list[PersonalData]:
    return sorted(_personal_data.values(), key=lambda section: (section.order, section.name))
