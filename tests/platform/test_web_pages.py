"""The web app's account, token and organization pages in a real browser (headless Chromium):
register, sign in and out, API tokens, orgs and members, an org's datasets; and the security
around them: cookie flags, CSRF, the Content-Security-Policy, org isolation, no secrets."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from playwright.sync_api import BrowserContext, Page

import shoal
from shoal.platform.common import STATE, Platform
from shoal.platform.config import ServerConfig
from shoal.platform.web import session
from tests.servers.platform_fixtures import Running

from .web_fixtures import (
    browser,
    context,
    csrf_of,
    off_loop,
    page,
    register,
    shot,
    sign_in,
    web_platform,
)

__all__ = ["browser", "context", "page", "web_platform"]


@pytest.fixture
def base(
    web_platform: Running, client_env: object, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("SHOAL_PLATFORM_URL", web_platform.url)
    yield web_platform.url


def test_register_sign_out_and_in(page: Page, context: BrowserContext, base: str) -> None:
    name = register(page, base)
    assert page.locator("#orgs").inner_text().startswith(name)
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["shoal_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and not session["secure"]
    assert cookies["shoal_csrf"]["httpOnly"] and cookies["shoal_csrf"]["sameSite"] == "Strict"
    # the session cookie is a login token the server checks like any other
    assert page.evaluate("document.cookie") == ""  # scripts cannot read either cookie

    page.click("text=Sign out")
    page.wait_for_url(base + "/signin")
    # the signed-out session is revoked: its cookie signs no one in again
    replay = context.browser.new_context()  # type: ignore[union-attr]
    replay.add_cookies([{"name": "shoal_session", "value": session["value"], "url": base}])
    again = replay.new_page()
    again.goto(base + "/tokens")
    assert again.url.startswith(base + "/signin?next=")
    replay.close()

    page.goto(base + "/tokens")  # signed out: pages send you to sign in, and back after
    assert page.url.startswith(base + "/signin?next=") and page.url.endswith("tokens")
    page.fill("#username", name)
    page.fill("#password", "wrong password!")
    page.press("#password", "Enter")
    page.wait_for_load_state()
    assert page.locator("#error").inner_text() == "wrong username or password"
    assert page.input_value("#username") == name and page.input_value("#password") == ""
    page.fill("#password", "correct horse")
    page.press("#password", "Enter")
    page.wait_for_url(base + "/tokens")  # back where the sign-in started
    sign_in(page, base, name)
    page.wait_for_url(base + "/orgs")  # the start page sends a signed-in user to their orgs
    shot(page, "tokens")


def test_register_errors_are_clear(page: Page, base: str) -> None:
    page.goto(base + "/register")
    page.fill("#username", "ok-name")
    page.fill("#email", "ok@example.com")
    page.fill("#password", "short")
    page.click("text=Create account")
    assert "password" in page.locator("#error").inner_text().lower()
    assert page.input_value("#username") == "ok-name"


def test_tokens_create_use_revoke(page: Page, base: str, web_platform: Running) -> None:
    register(page, base)
    page.goto(base + "/tokens")
    assert page.locator(".empty").inner_text() == "You have no API tokens yet."
    page.fill("#token-name", "ci")
    page.select_option("#token-expires", "7d")
    page.click("text=Create token")
    token = page.input_value("#token-value")
    assert "not shown again" in page.locator("#new-token").inner_text()
    status, me = web_platform.call("GET", "/api/user/profile", token=token)
    assert status == 200 and me["token"]["name"] == "ci"
    row = page.locator("tr[data-token=ci]")
    assert row.locator(".status-active").inner_text() == "active"
    shot(page, "token-created")

    page.goto(base + "/tokens")  # shown once: never again
    assert token not in page.content() and page.locator("#new-token").count() == 0
    page.click("button[aria-label='Revoke ci']")
    page.wait_for_url(base + "/tokens")
    assert page.locator("tr[data-token=ci] .status-revoked").inner_text() == "revoked"
    status, err = web_platform.call("GET", "/api/user/profile", token=token)
    assert status == 401 and err["error"] == "token_revoked"

    page.fill("#token-name", "bad name!")
    page.evaluate("document.querySelector('#token-name').removeAttribute('pattern')")
    page.click("text=Create token")
    assert "invalid token name" in page.locator("#error").inner_text()


def test_orgs_members_and_isolation(page: Page, context: BrowserContext, base: str) -> None:
    other_page = context.browser.new_context().new_page()  # type: ignore[union-attr]
    bob = register(other_page, base)
    alice = register(page, base)
    org = f"team-{alice}"
    page.fill("#org-name", org)
    page.click("text=Create organization")
    page.wait_for_url(base + f"/o/{org}")
    assert "No datasets" in page.locator(".empty").inner_text()
    page.click("nav.tabs >> text=Members")
    page.fill("#member-username", bob)
    page.select_option("#member-role", "read")
    page.click("text=Save")
    assert page.locator(f"tr[data-member={bob}]").inner_text().split()[1] == "read"
    page.fill("#member-username", "nobody-at-all")
    page.click("text=Save")
    assert page.locator("#error").inner_text() == "there is no user named 'nobody-at-all'"

    # bob reads the org but cannot manage its members; alice's personal org stays hers
    other_page.goto(base + f"/o/{org}/members")
    assert other_page.locator("#member-username").count() == 0
    resp = other_page.goto(base + f"/o/{alice}")
    assert resp is not None and resp.status == 403
    assert "is not a member" in other_page.locator("#error").inner_text()
    csrf = csrf_of(other_page.content())
    # even a hand-made form post is refused
    resp = other_page.request.post(
        base + f"/o/{org}/members", form={"csrf": csrf, "username": bob, "role": "admin"}
    )
    assert resp.status == 403 and "has the &#39;read&#39; role" in resp.text()
    other_page.context.close()


def test_datasets_list(page: Page, base: str, web_platform: Running) -> None:
    name = register(page, base)
    token = web_platform.user().token  # another user: isolation
    status, _ = web_platform.call("GET", f"/api/org/{name}/datasets", token=token)
    assert status == 200
    page.goto(base + "/tokens")
    page.fill("#token-name", "py")
    page.click("text=Create token")
    mine = page.input_value("#token-value")

    def write() -> None:
        ds = shoal.empty(f"hub://{name}/first", token=mine)
        ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
        ds.create_tensor("x", htype="generic", dtype="float32")
        ds.labels.extend(np.array([0, 1, 1], dtype=np.uint32))
        ds.x.extend(np.zeros((3, 4), dtype=np.float32))

    off_loop(write)
    page.goto(base + f"/o/{name}")
    row = page.locator("tr[data-dataset=first]")
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "first" and cells[2] == "platform storage"
    assert cells[3] == "labels, x" and cells[4] == "3"
    assert cells[5].endswith("B") and cells[6].endswith("Z")
    shot(page, "datasets")


def test_security_headers_and_csrf(page: Page, base: str) -> None:
    resp = page.goto(base + "/signin")
    assert resp is not None
    h = resp.headers
    assert "script-src 'self'" in h["content-security-policy"]
    assert "unsafe-inline" not in h["content-security-policy"]
    assert h["x-frame-options"] == "DENY" and h["cache-control"] == "no-store"
    # a form post without the CSRF field (as another site would send it) is refused
    register(page, base)
    resp2 = page.request.post(base + "/tokens", form={"name": "evil", "expires": "1d"})
    assert resp2.status == 403 and "reload the page" in resp2.text()
    # the JSON API never takes the session cookie
    api = page.request.get(base + "/api/user/profile")
    assert api.status == 401


def test_session_cookie_is_secure_over_https(tmp_path: Path) -> None:
    cases = ((ssl.create_default_context(), False, True), (None, False, False), (None, True, True))
    for ssl_context, proxied, secure in cases:
        config = ServerConfig.load(None, env={}, data_dir=str(tmp_path), behind_https_proxy=proxied)
        app = web.Application()
        app[STATE] = Platform(config, None, None, b"k" * 32, None, "")  # type: ignore[arg-type]
        request = make_mocked_request("GET", "/signin", sslcontext=ssl_context, app=app)
        response = web.Response()
        session.start(response, request, "a.login.token", 60)
        cookie = response.cookies["shoal_session"]
        assert bool(cookie["secure"]) is secure
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
        assert session.origin(request).startswith("https://" if secure else "http://")


def test_api_is_unchanged_without_cookies(web_platform: Running) -> None:
    status, body = web_platform.call("GET", "/api/nope")
    assert status == 404 and body["error"] == "not_found"  # the API still answers JSON
