"""Fixtures for the web app's tests in a real browser: Debian's headless Chromium driven by
Playwright (launched from /usr/bin/chromium; Playwright never downloads a browser), one
browser per test module and a fresh context (cookies, storage) per test; a platform for the
module; helpers to fill forms and read pages.

Why per module, not per run: Playwright's sync API keeps an event loop running on the main
thread while it is started, and every other test there would then run "inside" that loop
(shoal's sync calls refuse to block a running loop). So the browser lives only as long as the
module that uses it; within it, shoal's sync API runs on a thread (:func:`off_loop`).

Chromium resolves no name but loopback (``--host-resolver-rules``) and runs with its
background services off, so a test cannot send traffic off the machine.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.servers.platform_fixtures import Running, run_platform, unique

T = TypeVar("T")
CHROMIUM = os.environ.get("SHOAL_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-pings",
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (bash .ci/setup-browser)",
            pytrace=False,
        )
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_playwright() as pw:
        b = _launch(pw)
        try:
            yield b
        finally:
            b.close()


def _launch(pw: Any) -> Browser:
    """Debian's chromium was seen to crash (SIGSEGV) while starting, once in a few hundred
    launches on a loaded machine, before loading any page: a start that dies is retried, so
    that such a crash does not fail the web app's tests; a browser that never starts still
    fails them."""
    for attempt in range(3):
        try:
            browser: Browser = pw.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
            return browser
        except PlaywrightError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800})
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.js_errors = errors  # type: ignore[attr-defined]
    return p


@pytest.fixture(scope="module")
def web_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One platform for a module's browser tests (fast password hashing)."""
    with run_platform(tmp_path_factory, scrypt_n=1024, creds_ttl=900) as running:
        yield running


def off_loop(fn: Callable[[], T]) -> T:
    """Run shoal's sync API on a thread of its own: Playwright's sync API keeps an event loop
    running on the test's thread, where shoal refuses to block."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def register(
    page: Page, base: str, name: str | None = None, password: str = "correct horse"
) -> str:
    """Register through the form (which signs the browser in); the username."""
    name = name or unique("web")
    page.goto(base + "/register")
    page.fill("#username", name)
    page.fill("#email", f"{name}@example.com")
    page.fill("#password", password)
    page.click("button[type=submit]:has-text('Create account')")
    page.wait_for_url(base + "/orgs")
    return name


def sign_in(page: Page, base: str, name: str, password: str = "correct horse") -> None:
    page.goto(base + "/signin")
    page.fill("#username", name)
    page.fill("#password", password)
    page.press("#password", "Enter")  # keyboard only
    page.wait_for_load_state()


def shot(page: Page, name: str, **kwargs: Any) -> None:
    """With ``SHOAL_SCREENSHOTS=1``: keep a screenshot of the page for the README
    (docs/screenshots/NAME.png); otherwise nothing, so test runs leave the tree alone."""
    if os.environ.get("SHOAL_SCREENSHOTS") == "1":
        from PIL import Image

        SHOTS.mkdir(parents=True, exist_ok=True)
        png = page.screenshot(**kwargs)
        # 256 colours: a page shot stays a few tens of KB in the repository
        Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(
            SHOTS / f"{name}.png", optimize=True
        )
