"""Playwright against Debian's Chromium (Playwright cannot download browsers here)."""

import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.servers.basehttp import ServerHandler

# Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures
# are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# pytest-django's live server hands the test's in-memory SQLite connection to every request
# thread (Django's `connections_override`): concurrent requests then share one connection, so
# one transaction and one stack of savepoints. A click answered while a simulator webhook is
# inside `transaction.atomic()` nests into that block, and the webhook's savepoints unwinding
# can release or roll back the click's write (an "Assign to me" that did not stick), or a
# statement fails with "database table is locked". PostgreSQL, and SQLite on a file, give each
# request its own connection, so no user meets this. The live server therefore answers one
# request at a time when it shares the test's connection, as a database's isolation would
# make them appear. Per request, not per connection thread: a browser's idle keep-alive
# connection must not hold the lock. The timeout only turns an unforeseen deadlock (a request
# waiting on another request) back into the old overlap instead of a hang.
_ONE_REQUEST = threading.Lock()
_ONE_REQUEST_TIMEOUT = 30.0
_server_handler_run = ServerHandler.run


def _run_one_at_a_time(self, application):
    if not getattr(self.request_handler.server, "connections_override", None):
        return _server_handler_run(self, application)
    acquired = _ONE_REQUEST.acquire(timeout=_ONE_REQUEST_TIMEOUT)
    try:
        return _server_handler_run(self, application)
    finally:
        if acquired:
            _ONE_REQUEST.release()


@contextmanager
def live_server_idle():
    """Hold the live server between requests: the test's own queries then never meet a
    request's open transaction ("database table is locked" under SQLite's shared cache)."""
    acquired = _ONE_REQUEST.acquire(timeout=_ONE_REQUEST_TIMEOUT)
    try:
        yield
    finally:
        if acquired:
            _ONE_REQUEST.release()


@pytest.fixture(scope="session", autouse=True)
def live_server_one_request_at_a_time():
    ServerHandler.run = _run_one_at_a_time
    yield
    ServerHandler.run = _server_handler_run


def chromium_path() -> str:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is not installed: run `make browser` (apt-get install chromium)")
    return found


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def login(page, live_server):
    def do(username: str, password: str = "correct-horse-battery"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/staff/")

    return do
