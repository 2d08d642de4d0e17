"""One campaign, defined once, run in either mode (RELIABILITY.md, scenario 10).

In process (PostgreSQL) the test calls `campaign_setup` and `campaign_outcome` directly; in
embedded mode it runs this module with the embedded settings:

    python -m tests.integration.embedded_campaign setup --sim http://127.0.0.1:PORT
    python -m tests.integration.embedded_campaign outcome

The audience has contacts the simulator fails permanently (by number), a blocked and an
undeliverable contact (never sent to), and everybody else; the simulator also opens with a
short 130429 storm, which changes who is retried but not how anyone ends.
"""

from __future__ import annotations

import argparse
import json
import sys

N = 60
PREFIX = "+91974"
FAIL_CODES = {3: 131026, 13: 131026, 7: 131051, 17: 131009, 27: 131051}
BLOCKED = {5}
UNDELIVERABLE = {9}
STORM = {"code": 130429, "count": 8}


def phone(i: int) -> str:
    return f"{PREFIX}{i:07d}"


def simulator_config() -> dict:
    return {"fail_numbers": {phone(i).lstrip("+"): code for i, code in FAIL_CODES.items()}}


def expected_outcome() -> dict[str, list]:
    result = {}
    for i in range(N):
        if i in BLOCKED or i in UNDELIVERABLE:
            result[phone(i)] = ["excluded", None]
        elif i in FAIL_CODES:
            result[phone(i)] = ["Failed", FAIL_CODES[i]]
        else:
            result[phone(i)] = ["Accepted", None]
    return result


def campaign_setup(*, sim_url: str) -> int:
    """Channel on the simulator, templates, contacts, the campaign; launched. Returns its id."""
    from django.utils import timezone

    from crm.models import Contact, Tag
    from messaging.campaigns.services import campaign_launch
    from messaging.channels.templates import templates_sync
    from messaging.models import Campaign, Channel, MessageTemplate

    channel = Channel.objects.create(
        name="Main number",
        provider="meta_cloud",
        phone_number_id="200000000000001",
        waba_id="100000000000001",
        display_phone_number="15550001111",
        base_url=sim_url,
        throughput_mps=100,
    )
    result = templates_sync(channel=channel)
    if result.errors:
        raise RuntimeError(f"template sync failed: {result.errors}")
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        Contact(
            phone=phone(i),
            wa_id=phone(i).lstrip("+"),
            name=f"Person {i}",
            consent="opted_in",
            last_inbound_at=now,
            blocked=i in BLOCKED,
            undeliverable=i in UNDELIVERABLE,
        )
        for i in range(N)
    )
    tag = Tag.objects.create(name="embedded-vs-postgresql")
    tag.contacts.add(*contacts)
    campaign = Campaign.objects.create(
        name="Same everywhere",
        channel=channel,
        throttle_mps=50,
        template=MessageTemplate.objects.get(channel=channel, name="delivery_delayed"),
        parameter_mapping={
            "body": [
                {"source": "field", "value": "name"},
                {"source": "constant", "value": "#7"},
                {"source": "constant", "value": "Friday"},
            ]
        },
    )
    campaign.tags.add(tag)
    campaign_launch(campaign=campaign)
    return campaign.pk


def campaign_state(campaign_id: int) -> str:
    from messaging.models import Campaign

    return Campaign.objects.get(pk=campaign_id).state


def campaign_outcome(campaign_id: int) -> dict[str, list]:
    """phone -> [final status, error code of a failure] for the whole audience ("excluded":
    no message). An accepted message may keep the code of an earlier refused attempt (130429
    from the storm, which hits whoever comes first); only a failure's code is part of the
    outcome."""
    from crm.models import Contact
    from messaging.models import Message, Status

    result = {c: ["excluded", None] for c in Contact.objects.values_list("phone", flat=True)}
    for phone_, status, code in Message.objects.filter(campaign_id=campaign_id).values_list(
        "contact__phone", "status", "error_code"
    ):
        result[phone_] = [Status(status).label, code if status == Status.FAILED else None]
    return result


def main(argv: list[str]) -> None:
    import django

    django.setup()
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "state", "outcome"])
    parser.add_argument("--sim")
    parser.add_argument("--campaign", type=int)
    args = parser.parse_args(argv)
    if args.command == "setup":
        print(json.dumps({"campaign": campaign_setup(sim_url=args.sim)}))
    elif args.command == "state":
        print(json.dumps({"state": campaign_state(args.campaign)}))
    else:
        print(json.dumps(campaign_outcome(args.campaign)))


if __name__ == "__main__":
    main(sys.argv[1:])
