"""Browser tests: Debian's Chromium, driven by Playwright, against a live server of the shop.

``make test`` installs Chromium from Debian (``apt-get install chromium``); Playwright never downloads a
browser of its own here. Screenshots go to ``test-artifacts/screenshots/``.
"""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop on this thread; Django's ORM calls in the test body are still
# plain synchronous code, which Django would otherwise refuse as "called from an async context".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = os.environ.get("MES_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "pw-for-tests-1"  # tests.factories.make_user
# As the machine's own probe starts it: no sandbox as root, and no background calls to a closed network.
# Assertions wait as long as actions do (Playwright's own default is 5 s): on a loaded CI machine a
# page can take longer to show what the server already did, and a wait is not a speed test.
expect.set_options(timeout=15_000)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 375, "height": 740}
DESK = {"width": 1366, "height": 900}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def login(browser, live_server):
    """``login(user, viewport=PHONE)`` -> a logged-in page in its own browser context (own cookies)."""
    contexts = []

    def login_as(user, *, viewport: dict = DESK) -> Page:
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Log in')")
        expect(page).not_to_have_url(re.compile(r"/login/"))
        return page

    yield login_as
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
