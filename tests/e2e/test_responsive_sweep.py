"""Every staff page, as every role, on a phone and on a laptop.

The sweep is generic: it reads the pages from the staff navigation each role sees (so a page
an app registers later with `core.navigation.nav_register` is covered without touching this
file), then follows the links those pages hold, two steps deep, to one example of each kind of
page (a contact, a campaign, a conversation, a content item, an analytics tab, a job...). Each
page is loaded in a 390x844 phone context and in a 1366x768 laptop context, and each role's sweep
fails on:

- the document scrolling sideways (`scrollWidth > innerWidth`; wide tables must scroll inside
  their own box or become cards),
- a console error or an uncaught script error,
- a failed request or a response of 400 or more (the page or anything it loads),
- on the phone, a button, field, tab or navigation link lower than 44 px (staff pages only;
  the Django admin and Swagger UI bring their own styles), or a menu that does not open.

With SCREENSHOTS_DIR set it also saves a full-page screenshot of every page at both sizes into
`SCREENSHOTS_DIR/<size>/<role>--<page>.png` (`make screenshots`).
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from playwright.sync_api import Error as PlaywrightError

from core.management.commands.create_demo_users import DEMO_PASSWORD_SUFFIX, demo_username
from core.roles import ADMIN, AGENT, ANALYST, CAMPAIGN_MANAGER, CONTENT_REVIEWER, ROLE_NAMES
from tests.e2e.sweep_data import seed_wide_rows

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"phone": (390, 844), "laptop": (1366, 768)}
# Apple asks for 44 CSS px (Google 48); the staff CSS gives controls 44 px on phones.
MIN_TOUCH_PX = 44
# Links to follow from the navigation's pages, and how far.
DEPTH = 2
MAX_EXTRA_PAGES = 80
# Pages that differ by a name rather than an id (/jobs/start/backup/, /jobs/start/purge_data/)
# share a layout: a few of each family are enough.
MAX_NAMED_SIBLINGS = 3
# Detail pages the sweep must reach from the lists (as the Admin, who may open them all).
REPRESENTATIVE = {
    "/staff/contacts/<n>/",
    "/staff/campaigns/<n>/",
    "/staff/inbox/<n>/",
    "/staff/content/<n>/",
    "/staff/analytics/campaigns/<n>/",
    "/staff/analytics/templates/",
    "/staff/operations/jobs/<n>/",
}
# Paths that download a file rather than show a page (others are caught when they start one).
DOWNLOAD = re.compile(r"\.(csv|json|zip|gz|tar|sqlite3|xlsx)$")

# One pass over the rendered page: what sticks out past the viewport (the deepest elements,
# outside any box that scrolls or clips), the controls too small for a thumb, and the links
# of the main content.
INSPECT = """({minTouch, checkTargets}) => {
  const width = window.innerWidth;
  const result = {scrollWidth: document.documentElement.scrollWidth, culprits: [], small: [],
                  links: [], shell: !!document.querySelector('[data-testid=staff-nav]')};
  const describe = el => {
    const path = [];
    for (let node = el; node && node !== document.body && path.length < 4;
         node = node.parentElement) {
      const cls = typeof node.className === 'string' && node.className.trim()
        ? '.' + node.className.trim().split(/\\s+/).join('.') : '';
      path.unshift(node.tagName.toLowerCase() + cls);
    }
    return path.join(' > ');
  };
  if (result.scrollWidth > width) {
    const clipped = el => {
      for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
        if (getComputedStyle(node).overflowX !== 'visible') return true;
      }
      return false;
    };
    for (const el of document.querySelectorAll('body *')) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.right <= width || clipped(el)) continue;
      if ([...el.children].some(child => child.getBoundingClientRect().right > width)) continue;
      result.culprits.push(describe(el) + ' (' + Math.round(box.right) + 'px)');
      if (result.culprits.length >= 4) break;
    }
  }
  if (checkTargets && result.shell) {
    const selector = 'button, .button, select, .sidenav a, .tabs a, .pagination a, '
      + 'input:not([type=hidden]):not([type=checkbox]):not([type=radio])';
    for (const el of document.querySelectorAll(selector)) {
      const box = el.getBoundingClientRect();
      if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
      if (box.height < minTouch) {
        const label = (el.innerText || el.value || el.name || el.getAttribute('aria-label') || '')
          .trim().split('\\n')[0].slice(0, 30);
        const tag = el.tagName.toLowerCase();
        result.small.push(tag + ' "' + label + '" ' + Math.round(box.height) + 'px');
      }
    }
  }
  result.links = [...document.querySelectorAll('main a[href]')]
    .filter(a => !a.hasAttribute('download')).map(a => a.getAttribute('href'));
  return result;
}"""

SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR", "")


def _shape(path: str) -> str:
    """/staff/contacts/12/edit/?page=2 -> /staff/contacts/<n>/edit/: one visit per kind."""
    return re.sub(r"/\d+(?=/|$)", "/<n>", urlsplit(path).path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "root"


def _staff_page(href: str) -> str | None:
    """The path (and query) of a same-site staff page `href` points to, or None."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/"):
        return None
    if DOWNLOAD.search(parts.path):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Sweeper:
    """One role in one browser: a phone context and a laptop context, both signed in."""

    def __init__(self, browser, base_url: str, role: str):
        self.base_url = base_url
        self.role = role
        self.problems: list[str] = []
        self.statuses: dict[str, dict[str, str]] = {}
        self._errors: list[str] | None = None
        self._inflight: dict[int, set] = {}
        self.nav: list[str] = []
        self.pages = {}
        for size, (width, height) in VIEWPORTS.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_default_timeout(20_000)
            self._listen(page)
            self.pages[size] = page

    def _note(self, text: str) -> None:
        if self._errors is not None:
            self._errors.append(text)

    def _settle(self, page) -> None:
        """Wait until the requests the page made while loading (htmx fragments, chart data)
        have finished; "networkidle" would wait half a second more on every page."""
        inflight = self._inflight[id(page)]
        for _ in range(100):
            if not inflight:
                page.wait_for_timeout(30)
                if not inflight:
                    return
            page.wait_for_timeout(30)

    def _listen(self, page) -> None:
        inflight: set = set()
        self._inflight[id(page)] = inflight
        page.on("request", lambda req: inflight.add(req))
        page.on("requestfinished", lambda req: inflight.discard(req))
        page.on("requestfailed", lambda req: inflight.discard(req))
        page.on(
            "console",
            lambda msg: self._note(f"console error: {msg.text}") if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self._note(f"script error: {exc}"))
        page.on(
            "requestfailed",
            lambda req: self._note(f"request failed: {req.method} {req.url} ({req.failure})"),
        )
        page.on(
            "response",
            lambda resp: (
                self._note(f"HTTP {resp.status}: {resp.request.method} {resp.url}")
                if resp.status >= 400
                else None
            ),
        )

    def login(self) -> None:
        username = demo_username(self.role)
        for page in self.pages.values():
            page.goto(f"{self.base_url}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", username + DEMO_PASSWORD_SUFFIX)
            page.click("button[type=submit]")
            page.wait_for_url(f"{self.base_url}/staff/")

    def close(self) -> None:
        for page in self.pages.values():
            page.context.close()

    def nav_paths(self) -> list[str]:
        page = self.pages["laptop"]
        page.goto(f"{self.base_url}/staff/")
        hrefs = (
            page.get_by_test_id("staff-nav")
            .locator("a")
            .evaluate_all("links => links.map(a => a.getAttribute('href'))")
        )
        return [h for h in hrefs if h.startswith("/")]

    def check_menu(self) -> None:
        """On the phone the menu folds behind a button that opens it, with thumb-sized links."""
        page = self.pages["phone"]
        page.goto(f"{self.base_url}/staff/")
        nav = page.get_by_test_id("staff-nav")
        problems = []
        if nav.is_visible():
            problems.append("the navigation is not folded")
        page.get_by_role("button", name="Menu").click()
        if not nav.is_visible():
            problems.append("the Menu button does not open the navigation")
        found = page.evaluate(INSPECT, {"minTouch": MIN_TOUCH_PX, "checkTargets": True})
        if found["small"]:
            problems.append("touch targets under 44px: " + ", ".join(found["small"][:6]))
        if found["culprits"] or found["scrollWidth"] > VIEWPORTS["phone"][0]:
            problems.append("scrolls sideways with the menu open: " + "; ".join(found["culprits"]))
        self.problems += [f"menu [phone] {p}" for p in problems]

    def visit(self, path: str) -> list[str] | None:
        """Load `path` at each size; the links its main content holds, None if not a page."""
        links: list[str] = []
        for size, page in self.pages.items():
            self._errors = errors = []
            try:
                page.goto(self.base_url + path, wait_until="load")
            except PlaywrightError as exc:
                self._errors = None
                if "Download is starting" in str(exc):  # an export: not a page
                    return None
                raise
            self._settle(page)
            found = page.evaluate(
                INSPECT, {"minTouch": MIN_TOUCH_PX, "checkTargets": size == "phone"}
            )
            if found["scrollWidth"] > VIEWPORTS[size][0]:
                errors.append(
                    f"scrolls sideways: {found['scrollWidth']}px in {VIEWPORTS[size][0]}px; "
                    + "; ".join(found["culprits"])
                )
            if found["small"]:
                errors.append("touch targets under 44px: " + ", ".join(found["small"][:6]))
            if SCREENSHOTS_DIR:
                target = Path(SCREENSHOTS_DIR) / size / f"{_slug(self.role)}--{_slug(path)}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(target), full_page=True)
            if size == "laptop":
                links = found["links"]
            self._errors = None
            self.statuses.setdefault(path, {})[size] = "ok" if not errors else "FAIL"
            self.problems += [f"{path} [{size}] {error}" for error in errors]
        return links

    def sweep(self) -> None:
        self.login()
        self.check_menu()
        self.nav = nav = self.nav_paths()
        assert nav, f"{self.role} sees no navigation"
        seen = {_shape(p) for p in nav}
        siblings: dict[str, int] = {}
        level, extra = nav, 0
        for _ in range(DEPTH + 1):
            following = []
            for path in level:
                links = self.visit(path)
                for href in links or []:
                    candidate = _staff_page(href)
                    if candidate is None or _shape(candidate) in seen:
                        continue
                    family = _shape(candidate).rstrip("/").rsplit("/", 1)[0]
                    if extra >= MAX_EXTRA_PAGES or siblings.get(family, 0) >= MAX_NAMED_SIBLINGS:
                        continue
                    seen.add(_shape(candidate))
                    siblings[family] = siblings.get(family, 0) + 1
                    following.append(candidate)
                    extra += 1
            level = following

    def report(self) -> str:
        lines = [f"{self.role}: {len(self.statuses)} pages"]
        lines += [
            f"  {path}  phone {s.get('phone', '-')}  laptop {s.get('laptop', '-')}"
            for path, s in self.statuses.items()
        ]
        return "\n".join(lines)


def _notification_types_restore() -> None:
    """Transactional tests end with a flush, which also empties what data migrations wrote;
    the demo's notifications need the event types messaging's migration 0010 creates."""
    from django.apps import apps

    importlib.import_module("messaging.migrations.0010_notification_types").create(apps, None)


@pytest.fixture
def world(channel, live_server):
    """The demo's data, plus rows built to be wide: long names and numbers, many tags."""
    _notification_types_restore()
    with Path(os.devnull).open("w") as quiet:
        call_command("seed_demo", stdout=quiet)
    seed_wide_rows(channel=channel)
    return live_server


# The demo is seeded once per group of roles, not once per role (seeding costs about as much
# as sweeping a role); two groups of about equal length let two test workers share the work.
ROLE_GROUPS = [
    (ADMIN, ANALYST, CONTENT_REVIEWER),
    (CAMPAIGN_MANAGER, AGENT),
]
assert sorted(role for group in ROLE_GROUPS for role in group) == sorted(ROLE_NAMES)


@pytest.mark.timeout(1800 if SCREENSHOTS_DIR else 840)
@pytest.mark.parametrize("roles", ROLE_GROUPS, ids=lambda roles: "+".join(roles))
def test_every_staff_page_fits_a_phone_and_a_laptop(roles, world, browser):
    failures = []
    for role in roles:
        sweeper = Sweeper(browser, world.url, role)
        try:
            sweeper.sweep()
        finally:
            sweeper.close()
        print("\n" + sweeper.report())
        if SCREENSHOTS_DIR:
            report = Path(SCREENSHOTS_DIR) / f"{_slug(role)}.txt"
            report.write_text(sweeper.report() + "\n\n" + "\n".join(sweeper.problems) + "\n")
        failures += [f"{role}: {problem}" for problem in _role_problems(role, sweeper)]
    assert not failures, "\n".join(failures)


def _role_problems(role: str, sweeper: Sweeper) -> list[str]:
    problems = list(sweeper.problems)
    missed = set(sweeper.nav) - set(sweeper.statuses)
    if missed:
        problems.append(f"navigation pages not visited: {sorted(missed)}")
    if role == ADMIN:  # sees everything: the detail pages were found through the lists
        shapes = {_shape(path) for path in sweeper.statuses}
        if not shapes >= REPRESENTATIVE:
            problems.append(f"detail pages not reached: {sorted(REPRESENTATIVE - shapes)}")
    return problems
