"""Demo data for crm: believable Indian contacts, tags, attributes, segments, advisors, consent
history, the shoppers who signed up for the Diwali sale (some of them abroad) and one finished
import with a few rejected rows. Idempotent: a second run finds what the first created (by
phone, name or key) and adds nothing."""

from __future__ import annotations

import random
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from crm.importing.jobs import import_job_create, import_job_run
from crm.models import (
    Advisor,
    AttributeDefinition,
    Consent,
    ConsentSource,
    Contact,
    ImportJob,
    Segment,
    Tag,
)
from crm.segment_filters import segment_filter_clean
from crm.services import consent_set, tags_get_or_create

FIRST_NAMES = [
    "Aarav", "Vivaan", "Aditya", "Arjun", "Sai", "Reyansh", "Krishna", "Ishaan", "Rohan",
    "Kabir", "Vihaan", "Rahul", "Amit", "Suresh", "Rajesh", "Vikram", "Manoj", "Harish",
    "Ananya", "Diya", "Aadhya", "Saanvi", "Isha", "Priya", "Kavya", "Meera", "Neha", "Pooja",
    "Sneha", "Lakshmi", "Divya", "Anjali", "Shreya", "Riya", "Nandini", "Asha", "Sunita",
]  # fmt: skip
LAST_NAMES = [
    "Sharma", "Verma", "Patel", "Iyer", "Nair", "Reddy", "Gupta", "Singh", "Kumar", "Mehta",
    "Shah", "Joshi", "Desai", "Rao", "Menon", "Chatterjee", "Banerjee", "Das", "Pillai",
    "Kulkarni", "Deshpande", "Agarwal", "Malhotra", "Kapoor", "Bhat", "Naidu", "Mishra",
]  # fmt: skip
CITIES = ["Mumbai", "Delhi", "Bengaluru", "Pune", "Chennai", "Hyderabad", "Kolkata",
          "Ahmedabad", "Jaipur", "Lucknow", "Kochi", "Indore"]  # fmt: skip
TAGS = ["vip", "newsletter", "diwali-2026", "advisor", "churn-risk", "new-customer", "wholesale"]
FIRMS = [
    "Kaveri Wealth Partners", "Sahyadri Financial Advisors", "Ganga Capital Desk",
    "Nilgiri Investment Planners", "Deccan Money Matters", "Indus Advisory Network",
]  # fmt: skip
REGIONS = ["North", "South", "East", "West", "Central"]
# The categories of the demo's content for advisors (`messaging.content.demo.ITEMS`): advisors
# prefer some of them, so the day's content reaches them (crm cannot import messaging).
CATEGORIES = ["markets", "tax", "commodities", "macro", "planning", "insurance"]
DISABLE_REASONS = [
    "Left the firm in October",
    "Asked to pause content until next quarter",
    "Compliance review pending",
    "Number no longer on WhatsApp",
]
CONTACTS = 200
ADVISORS = 40
# Shoppers who signed up for the Diwali sale at the store or on the web: the audience of the
# demo's flagship marketing campaign. One in six lives abroad (the diaspora orders gifts
# home), where Meta charges more per message: AE, GB, US and Singapore (Rest of World).
SHOPPERS = 400
ABROAD = [("+97150", 4000000), ("+447400", 100000), ("+1212555", 1000), ("+6591", 100000)]
PHONE_BASE = 9876500000  # +91 98765 00000 onwards: valid Indian mobile numbers
IMPORT_NAME = "demo-contacts.csv"


def _attributes() -> None:
    for key, label, kind, choices in (
        ("city", "City", "text", []),
        ("plan", "Plan", "choice", ["free", "plus", "pro"]),
        ("lifetime_orders", "Lifetime orders", "number", []),
    ):
        AttributeDefinition.objects.get_or_create(
            key=key, defaults={"label": label, "type": kind, "choices": choices}
        )


def _contacts(rng: random.Random, tags: dict[str, Tag]) -> tuple[int, list[Contact]]:
    now = timezone.now()
    created = 0
    contacts = []
    sources = [ConsentSource.IMPORT, ConsentSource.API, ConsentSource.STAFF, ConsentSource.KEYWORD]
    for i in range(CONTACTS):
        phone = f"+91{PHONE_BASE + i}"
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        attributes = {
            "city": rng.choice(CITIES),
            "plan": rng.choices(["free", "plus", "pro"], weights=[6, 3, 1])[0],
            "lifetime_orders": rng.choices([0, 1, 2, 3, 5, 8, 13, 21], [2, 4, 4, 3, 3, 2, 1, 1])[0],
        }
        picked = [t for t in TAGS if t != "advisor" and rng.random() < 0.22]
        consent = rng.choices(
            [Consent.OPTED_IN, Consent.OPTED_OUT, Consent.UNKNOWN], weights=[60, 15, 25]
        )[0]
        source = rng.choice(sources)
        days_ago = rng.randint(0, 120)
        wrote = now - timedelta(days=rng.randint(0, 45), minutes=rng.randint(0, 1440))
        contact, is_new = Contact.objects.get_or_create(
            phone=phone,
            defaults={
                "wa_id": phone[1:], "name": name, "language": rng.choice(["en", "hi", "en"]),
                "attributes": attributes, "created_at": now - timedelta(days=days_ago + 30),
                "last_inbound_at": wrote if rng.random() < 0.5 else None,
            },
        )  # fmt: skip
        contacts.append(contact)
        if not is_new:
            continue
        created += 1
        contact.tags.add(*(tags[t] for t in picked))
        if consent != Consent.UNKNOWN:
            consent_set(
                contact=contact, consent=consent, source=source,
                note="demo data", at=now - timedelta(days=days_ago),
            )  # fmt: skip
    return created, contacts


def _shoppers(rng: random.Random, tags: dict[str, Tag]) -> int:
    now = timezone.now()
    created = 0
    for i in range(SHOPPERS):
        if i % 6 == 5:
            prefix, base = ABROAD[(i // 6) % len(ABROAD)]
            phone = f"{prefix}{base + i}"
        else:
            phone = f"+91{PHONE_BASE + CONTACTS + i}"
        signed_up = now - timedelta(days=rng.randint(20, 50), minutes=rng.randint(0, 1440))
        attributes = {
            "city": rng.choice(CITIES) if phone.startswith("+91") else "",
            "plan": "free",
            "lifetime_orders": rng.choices([0, 1, 2, 3], [5, 3, 2, 1])[0],
        }
        contact, is_new = Contact.objects.get_or_create(
            phone=phone,
            defaults={
                "wa_id": phone[1:], "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "language": "en", "attributes": attributes, "created_at": signed_up,
            },
        )  # fmt: skip
        if not is_new:
            continue
        created += 1
        contact.tags.add(tags["diwali-2026"], *([tags["new-customer"]] * (rng.random() < 0.5)))
        consent = rng.choices([Consent.OPTED_IN, Consent.UNKNOWN], weights=[85, 15])[0]
        if consent == Consent.OPTED_IN:
            consent_set(
                contact=contact, consent=consent, source=rng.choice([ConsentSource.IMPORT,
                ConsentSource.API]), note="demo data: Diwali sale sign-up", at=signed_up,
            )  # fmt: skip
    return created


def _advisors(rng: random.Random, contacts: list[Contact], tags: dict[str, Tag]) -> int:
    created = 0
    today = timezone.localdate()
    disabled = list(range(3, ADVISORS, ADVISORS // len(DISABLE_REASONS)))  # four of them
    for n, contact in enumerate(contacts[-ADVISORS:]):
        preferences = rng.sample(CATEGORIES, k=rng.randint(1, 3))
        defaults = {
            "firm": rng.choice(FIRMS),
            "region": rng.choice(REGIONS),
            "tier": rng.choices(["gold", "silver", "bronze"], weights=[2, 3, 5])[0],
            # One in four has no preferences: they get every category.
            "content_preferences": [] if n % 4 == 1 else preferences,
            "onboarded_on": today - timedelta(days=rng.randint(10, 700)),
        }
        if n in disabled:
            defaults.update(
                is_active=False,
                disabled_reason=DISABLE_REASONS[disabled.index(n) % len(DISABLE_REASONS)],
                disabled_at=timezone.now() - timedelta(days=rng.randint(1, 60)),
            )
        _, is_new = Advisor.objects.get_or_create(contact=contact, defaults=defaults)
        created += is_new
        contact.tags.add(tags["advisor"])
    return created


SEGMENTS = [
    ("VIPs who opted in", "High-value customers we may market to.",
     {"tags": {"any": ["vip"]}, "consent": ["opted_in"]}),
    ("Diwali 2026 audience", "Opted-in festive campaign audience, minus churn risk.",
     {"tags": {"all": ["diwali-2026"], "none": ["churn-risk"]}, "consent": ["opted_in"]}),
    ("Loyal Pune customers", "Pune customers with more than five orders.",
     {"attributes": [{"key": "city", "op": "eq", "value": "Pune"},
                     {"key": "lifetime_orders", "op": "gt", "value": 5}]}),
    ("Active this month", "Wrote to us in the last 30 days.", {"active_within_days": 30}),
    ("Gold advisors", "Active gold-tier advisors for premium content.",
     {"advisors_only": True, "advisor_tiers": ["gold"]}),
]  # fmt: skip


def _segments() -> int:
    created = 0
    for name, description, filter_data in SEGMENTS:
        _, is_new = Segment.objects.get_or_create(
            name=name,
            defaults={"description": description, "filter": segment_filter_clean(filter_data)},
        )
        created += is_new
    return created


def _import_job(rng: random.Random) -> int | None:
    """A finished import with a few rejected rows, through the real import path."""
    if ImportJob.objects.filter(original_name=IMPORT_NAME).exists():
        return None
    lines = ["phone,name,tags,consent,language,city,lifetime_orders"]
    for i in range(24):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        lines.append(
            f"+91{PHONE_BASE + 1000 + i},{name},newsletter;new-customer,"
            f"{rng.choice(['opted_in', 'unknown'])},en,{rng.choice(CITIES)},{rng.randint(0, 4)}"
        )
    lines[5] = "98765 0123,Short Number,newsletter,opted_in,en,Pune,1"  # invalid phone
    lines[12] = f"+91{PHONE_BASE + 1011},Kiran Rao,,sometimes,en,Delhi,2"  # bad consent
    lines[18] = f"+91{PHONE_BASE + 1017},Farah Khan,,opted_in,en,Mumbai,lots"  # wrong type
    content = ("\n".join(lines) + "\n").encode()
    job = import_job_create(
        upload=SimpleUploadedFile(IMPORT_NAME, content, content_type="text/csv"), enqueue=False
    )
    import_job_run(job_id=job.pk)
    return job.pk


def seed_crm(*, rng: random.Random) -> dict:
    """Create (or find) the crm demo data; returns what it created."""
    with transaction.atomic():
        _attributes()
        tags = {t.name: t for t in tags_get_or_create(TAGS)}
        contacts_created, contacts = _contacts(rng, tags)
        advisors_created = _advisors(rng, contacts, tags)
        shoppers_created = _shoppers(rng, tags)
        segments_created = _segments()
    job_id = _import_job(rng)
    return {
        "contacts": contacts_created,
        "shoppers": shoppers_created,
        "advisors": advisors_created,
        "segments": segments_created,
        "import_job": job_id,
    }
