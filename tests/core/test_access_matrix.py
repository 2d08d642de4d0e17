"""Every URL pattern, every user kind: exactly the access README's access matrix states.

The matrix ("Roles and permissions" -> "Access matrix" in README.md) is this test's input, so
the documentation and the code cannot drift apart: a URL without a row, a row without a URL,
a method a URL accepts but the matrix does not list, or a role that gets in (or is kept out)
against the table fails here. Path parameters are filled with real objects, so the checks run
past the object lookups. The admin (`/admin/...`) follows Django's rule, checked per model
against the role definitions in core/roles.py.

Users: anonymous, a signed-in staff user with no role, and one user per role. "Let in" means
any answer but 401/403/405 or a redirect to a sign-in page; a 5xx is always a failure.

`ACCESS_MATRIX_PRINT=1 pytest tests/core/test_access_matrix.py -s` prints the table the code
implements today, to paste into README after reviewing it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from core.roles import ROLE_NAMES, ROLES

ROOT = Path(__file__).resolve().parents[2]
ANONYMOUS, NO_ROLE = "anonymous", "no role"
USERS = [ANONYMOUS, NO_ROLE, *ROLE_NAMES]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
LOGIN_PREFIXES = ("/accounts/login/", "/admin/login/")


# --- The matrix as README states it ---------------------------------------------------------


@dataclass(frozen=True)
class Row:
    url: str
    methods: tuple[str, ...]
    who: str


def readme_matrix() -> list[Row]:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^### Access matrix\n(.*?)(?=^#{2,3} )", text, flags=re.M | re.S)
    assert match, "README.md needs the '### Access matrix' section under 'Roles and permissions'"
    rows = []
    for line in match.group(1).splitlines():
        cells = (
            [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        )
        if len(cells) != 3 or cells[0] in ("URL", "") or set(cells[0]) <= {"-", " "}:
            continue
        url = cells[0].strip("`")
        methods = tuple(m.strip() for m in cells[1].split(","))
        rows.append(Row(url, methods, cells[2]))
    assert rows, "the access matrix has no rows"
    return rows


# Rows for machines, not users: provider webhooks (their signature) and /metrics (its token or
# network, tests/core/test_metrics.py). Which user is signed in changes nothing for them.
MACHINE_CREDENTIALS = ("signature", "token or network")
MACHINE_LABELS = {
    "/webhooks/": "signature (see Webhooks)",
    "/metrics": "token or network (see Metrics and error reports)",
}


def who_users(who: str) -> set[str]:
    """The user kinds a `who` cell lets in."""
    if who == "anyone":
        return set(USERS)
    if who == "signed in":
        return set(USERS) - {ANONYMOUS}
    if who.startswith(MACHINE_CREDENTIALS):
        return set()  # nobody gets in without the provider's signature or the metrics token
    names = {name.strip() for name in who.split(",")}
    unknown = names - set(ROLE_NAMES)
    assert not unknown, f"unknown roles in the access matrix: {unknown}"
    return names


def who_label(users: set[str]) -> str:
    if users == set(USERS):
        return "anyone"
    if users == set(USERS) - {ANONYMOUS}:
        return "signed in"
    if not users:
        return "nobody"
    return ", ".join(name for name in ROLE_NAMES if name in users)


# --- The URL patterns as Django resolves them -------------------------------------------------


def _display(route: str) -> str:
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route)
    route = route.replace("^", "").replace("$", "").replace("/?", "/")
    return "/" + route


def url_patterns(resolver=None, prefix: str = "") -> list[tuple[str, object]]:
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found += url_patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.append((_display(prefix + str(pattern.pattern)), pattern.callback))
    return found


def routes() -> dict[str, object]:
    """Display route -> view, the admin left out (it has its own check)."""
    return {route: view for route, view in url_patterns() if not route.startswith("/admin/")}


def api_methods(view) -> set[str] | None:
    """The methods a DRF view implements (introspected), or None for a plain Django view."""
    cls = getattr(view, "cls", None)
    if cls is None:
        return None
    actions = getattr(view, "actions", None)
    if actions:
        return {m.upper() for m in actions} - {"HEAD", "OPTIONS"}
    instance = cls(**getattr(view, "initkwargs", {}))
    return set(instance.allowed_methods) - {"HEAD", "OPTIONS"}


# --- Objects behind the path parameters -------------------------------------------------------


class World:
    """One object of each kind the URLs name, created once; `fresh()` for destructive calls."""

    def __init__(self, settings, tmp_path):
        from analytics.models import JobRun
        from crm.models import AttributeDefinition, ImportJob
        from messaging.links.services import link_wrap
        from messaging.models import AutomatedAnswer, Campaign, CannedReply, Team, TeamMember
        from tests.factories import (
            AdvisorFactory,
            AutoReplyRuleFactory,
            ChannelFactory,
            ContactFactory,
            ContentItemFactory,
            ConversationFactory,
            FaqEntryFactory,
            InboundMessageFactory,
            MessageFactory,
            NotificationFactory,
            OpsWebhookEventFactory,
            SegmentFactory,
            TagFactory,
            TemplateFactory,
            UserFactory,
            WebhookSubscriptionFactory,
        )

        settings.MEDIA_ROOT = tmp_path / "media"
        settings.BACKUP_DIR = tmp_path / "backups"
        settings.BACKUP_DIR.mkdir()
        backup = "parley-backup-20260101T000000Z.tar.gz"
        (settings.BACKUP_DIR / backup).write_bytes(b"not really a backup")

        self.channel = ChannelFactory()
        self.contact = ContactFactory(last_inbound_at=timezone.now())
        template = TemplateFactory(channel=self.channel, name="access_template")
        conversation = ConversationFactory(
            contact=self.contact, channel=self.channel, last_inbound_at=timezone.now()
        )
        inbound = InboundMessageFactory(
            channel=self.channel, contact=self.contact, conversation=conversation
        )
        reply = MessageFactory(channel=self.channel, contact=self.contact, is_automated=True)
        answer = AutomatedAnswer.objects.create(message=reply, question=inbound, responder="faq")
        campaign = Campaign.objects.create(name="Access", channel=self.channel, template=template)
        job = ImportJob.objects.create(
            original_name="x.csv", format="csv", status="failed", file="imports/x.csv"
        )
        self.team = Team.objects.create(name="Access team")
        canned = CannedReply.objects.create(
            team=self.team, shortcut="access", title="Access", body="Hello"
        )
        self.factories = {
            "contact": ContactFactory,
            "tag": TagFactory,
            "segment": SegmentFactory,
            "advisor": AdvisorFactory,
            "faq": FaqEntryFactory,
            "template": lambda: TemplateFactory(channel=self.channel, status="DRAFT"),
            "asset": _asset,
            "webhook_subscription": WebhookSubscriptionFactory,
            "canned": lambda: CannedReply.objects.create(
                team=self.team,
                shortcut=f"fresh-{CannedReply.objects.count()}",
                title="t",
                body="b",
            ),
        }
        self.ids = {
            "contacts": self.contact.pk,
            "tags": TagFactory().pk,
            "segments": SegmentFactory().pk,
            "advisors": AdvisorFactory().pk,
            "attributes": AttributeDefinition.objects.create(
                key="city", label="City", type="text"
            ).pk,
            "imports": job.pk,
            "campaigns": campaign.pk,
            "channels": self.channel.phone_number_id,
            "content": ContentItemFactory().pk,
            "notifications": NotificationFactory(contact=self.contact).pk,
            "faq": FaqEntryFactory().pk,
            "auto-replies": AutoReplyRuleFactory().pk,
            "answers": answer.pk,
            "teams": self.team.pk,
            "numbers": self.channel.pk,
            "canned-replies": canned.pk,
            "inbox": conversation.pk,
            "conversations": conversation.pk,
            "jobs": JobRun.objects.create(name="purge_data", trigger="user", state="succeeded").pk,
            "webhooks": OpsWebhookEventFactory(state="failed").pk,
            "webhook-subscriptions": WebhookSubscriptionFactory().pk,
            "messages": str(reply.uuid),
            "media": _asset().pk,
            "inbound_media": inbound.pk,
            "template": template.pk,
            "templates": template.pk,
            "backup": backup,
            "job_name": "purge_data",
            "link": link_wrap(url="https://example.com/offer").rsplit("/", 1)[-1],
            "analytics_table": "daily",
        }
        conversions = _first_conversion_id(self.contact)
        if conversions is not None:
            self.ids["conversions"] = conversions
        self.users = {
            name: UserFactory(username=f"access-{i}", roles=[name] if name in ROLE_NAMES else [])
            for i, name in enumerate(USERS)
            if name != ANONYMOUS
        }
        # The Agent writes their own team's canned replies (the world's one is that team's).
        TeamMember.objects.create(team=self.team, user=self.users["Agent"])

    def value(self, route: str, param: str) -> str:
        parts = route.strip("/").split("/")
        if param == "action":
            return {"campaigns": "pause", "content": "submit", "inbox": "read"}[parts[1]]
        if param == "name":
            return self.ids["backup"] if "backups" in parts else self.ids["job_name"]
        if param == "table":
            return self.ids["analytics_table"]
        if param == "token":
            return self.ids["link"]
        if param == "message_id":
            return str(self.ids["inbound_media"])
        if param == "template_id":
            return str(self.ids["template"])
        if param == "channel_id":
            return str(self.channel.pk)
        # pk / id: the object of the resource named just before the parameter
        resource = parts[parts.index(f"<{param}>") - 1]
        if parts[:3] == ["staff", "integrations", "webhooks"]:
            resource = "webhook-subscriptions"  # event webhooks, not the ops centre's intake
        assert resource in self.ids, f"no object for <{param}> in {route}: add one to World"
        return str(self.ids[resource])

    def url(self, route: str) -> str:
        return re.sub(r"<(\w+)>", lambda m: self.value(route, m.group(1)), route)

    def fresh_url(self, route: str) -> str:
        """For DELETE: a new object of the route's kind, so the shared ones stay."""
        parts = route.split("/")
        for index, part in enumerate(parts):
            if part in ("<pk>", "<id>") and parts[index - 1] in FRESH:
                parts[index] = str(self.factories[FRESH[parts[index - 1]]]().pk)
                return self.url("/".join(parts))
        return self.url(route)


FRESH = {
    "contacts": "contact",
    "tags": "tag",
    "segments": "segment",
    "advisors": "advisor",
    "faq": "faq",
    "canned-replies": "canned",
    "templates": "template",
    "media": "asset",
    "webhook-subscriptions": "webhook_subscription",
}


def _asset():
    """A media library file (a new one each call: the bytes differ)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from messaging.media.models import MediaAsset
    from messaging.media.services import media_asset_create
    from messaging.providers.simulator.media import png_bytes

    seed = MediaAsset.objects.count() + 1
    upload = SimpleUploadedFile(f"access-{seed}.png", png_bytes(seed=seed))
    return media_asset_create(upload=upload)[0]


def _first_conversion_id(contact):
    """A conversion (analytics); None while the model is not there."""
    try:
        from analytics.models import ConversionEvent
    except ImportError:
        return None
    return ConversionEvent.objects.create(
        reference_id="ORD-ACCESS",
        type="order",
        value=100,
        currency="INR",
        occurred_at=timezone.now(),
        contact=contact,
    ).pk


# --- Looking ------------------------------------------------------------------------------


def request(client: Client, method: str, url: str):
    if url.startswith("/api/"):
        return client.generic(
            method, url, json.dumps({}) if method != "GET" else "", content_type="application/json"
        )
    if method == "GET":
        return client.get(url)
    return client.generic(method, url, "", content_type="application/x-www-form-urlencoded")


def let_in(response, route: str = "") -> bool:
    if route == "/accounts/logout/":
        return response.status_code == 302  # signs out whoever asks, then to the login page
    if response.status_code in (401, 403, 405):
        return False
    if response.status_code in (301, 302):
        return not response["Location"].startswith(LOGIN_PREFIXES)
    return True


# /healthz answers 503 while no worker runs (as here): that is its job, not a crash.
EXPECTED_5XX = {"/healthz"}


@pytest.fixture
def world(db, settings, tmp_path):
    return World(settings, tmp_path)


def observe(world: World) -> tuple[dict[tuple[str, str], set[str]], list[str]]:
    """(route, method) -> the users let in; and every 5xx seen."""
    clients = {}
    for name in USERS:
        client = Client()
        if name != ANONYMOUS:
            client.force_login(world.users[name])
        clients[name] = client
    seen: dict[tuple[str, str], set[str]] = {}
    errors: list[str] = []
    for route, view in sorted(routes().items()):
        methods = api_methods(view)
        tried = sorted(methods) if methods is not None else ["GET", "POST"]
        for method in tried:
            users = set()
            for name in USERS:
                client = clients[name]
                if route == "/accounts/logout/":
                    client = Client()
                    if name != ANONYMOUS:
                        client.force_login(world.users[name])
                url = world.fresh_url(route) if method == "DELETE" else world.url(route)
                response = request(client, method, url)
                if response.status_code >= 500 and route not in EXPECTED_5XX:
                    errors.append(f"{method} {url} as {name}: {response.status_code}")
                if let_in(response, route):
                    users.add(name)
                elif response.status_code == 405:
                    break  # the method is not accepted at all
            else:
                seen[(route, method)] = users
                continue
            if users:
                errors.append(f"{method} {route}: 405 for some users only")
    return seen, errors


def observed_rows(seen) -> list[Row]:
    by_route: dict[tuple[str, str], list[str]] = {}
    for (route, method), users in sorted(seen.items()):
        label = next(
            (text for prefix, text in MACHINE_LABELS.items() if route.startswith(prefix)),
            who_label(users),
        )
        by_route.setdefault((route, label), []).append(method)
    return [Row(route, tuple(methods), label) for (route, label), methods in by_route.items()]


def test_every_url_gives_exactly_the_access_the_readme_matrix_states(world):
    seen, errors = observe(world)
    if os.environ.get("ACCESS_MATRIX_PRINT"):
        print("\n| URL | methods | who |\n| --- | --- | --- |")
        for row in observed_rows(seen):
            print(f"| `{row.url}` | {', '.join(row.methods)} | {row.who} |")
    assert not errors, "server errors or inconsistent answers:\n" + "\n".join(errors)

    documented: dict[tuple[str, str], str] = {}
    for row in readme_matrix():
        for method in row.methods:
            documented[(row.url, method)] = row.who
    matrix_routes = {url for url, _ in documented if not url.startswith("/admin/")}
    assert matrix_routes <= set(routes()), "rows for URLs that do not exist: " + ", ".join(
        sorted(matrix_routes - set(routes()))
    )
    undocumented = sorted(set(routes()) - matrix_routes)
    assert not undocumented, "URLs missing from README's access matrix: " + ", ".join(undocumented)

    problems = []
    for (route, method), users in sorted(seen.items()):
        who = documented.get((route, method))
        if who is None:
            problems.append(f"{method} {route} is accepted but not in the matrix")
            continue
        if who.startswith(MACHINE_CREDENTIALS):
            continue  # checked below, and for /metrics in tests/core/test_metrics.py
        expected = who_users(who)
        if users != expected:
            problems.append(
                f"{method} {route}: README says {who!r}, the code lets in {who_label(users)!r}"
            )
    for route, method in sorted(documented):
        if route.startswith("/admin/"):
            continue
        if (route, method) not in seen:
            problems.append(f"{method} {route} is in the matrix but not accepted (405)")
    assert not problems, "\n".join(problems)


def test_webhooks_let_nobody_in_without_the_provider_credentials(world):
    client = Client()
    for name in (ANONYMOUS, "Admin"):
        if name != ANONYMOUS:
            client.force_login(world.users[name])
        assert (
            client.post("/webhooks/whatsapp/", b"{}", content_type="application/json").status_code
            == 401
        )
        assert client.get("/webhooks/whatsapp/").status_code == 403
        assert (
            client.post("/webhooks/myoperator/", b"{}", content_type="application/json").status_code
            == 401
        )


def test_metrics_let_no_user_in_without_the_token_or_network(world, settings):
    settings.METRICS_TOKEN = "matrix-metrics-token"
    settings.METRICS_ALLOWED_NETWORKS = []
    for name in (ANONYMOUS, "Admin"):
        client = Client()
        if name != ANONYMOUS:
            client.force_login(world.users[name])
        assert client.get("/metrics").status_code == 403, name
        assert client.post("/metrics").status_code == 405, name


def test_the_admin_follows_each_roles_model_permissions(world):
    """Django's rule: a staff user sees a model's admin pages with its view or change
    permission (and, where the model admin names them, the permissions of the staff page that
    shows the same rows: core.admin.StaffScopedAdmin). Checked for every registered model and
    role against core/roles.py; anonymous users are sent to the admin's sign-in page, users
    without a role see no model."""
    assert any(row.url.startswith("/admin/") for row in readme_matrix())
    anonymous, no_role = Client(), Client()
    no_role.force_login(world.users[NO_ROLE])
    for url in ("/admin/", "/admin/messaging/channel/", "/admin/auth/user/"):
        assert not let_in(anonymous.get(url)), url
    for url in ("/admin/messaging/channel/", "/admin/auth/user/", "/admin/crm/contact/"):
        assert not let_in(no_role.get(url)), url
    problems = []
    for role in ROLES:
        client = Client()
        client.force_login(world.users[role.name])
        for model, model_admin in admin.site._registry.items():
            meta = model._meta
            url = f"/admin/{meta.app_label}/{meta.model_name}/"
            perms = [f"{meta.app_label}.{p}_{meta.model_name}" for p in ("view", "change")]
            staff_scope = getattr(model_admin, "staff_permissions", ())
            expected = any(role.allows(p) for p in perms) and all(
                role.allows(p) for p in staff_scope
            )
            response = client.get(url)
            assert response.status_code < 500, (url, role.name, response.status_code)
            if let_in(response) != expected:
                problems.append(
                    f"{url} as {role.name}: expected {'in' if expected else 'out'}, "
                    f"got {response.status_code}"
                )
    assert not problems, "\n".join(problems)
