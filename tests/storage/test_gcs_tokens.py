"""gcs:// user tokens on loopback: the browser flow completed by a headless client, the login
cache, and token lifetime (refresh before expiry, single flight, re-auth on 401, 403s).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
import threading
import time
import urllib.request
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.errors import CredentialsError
from shoal.storage._gcs import GcsStorage
from tests.servers.gcs_fixtures import BUCKET, LOCKED_BUCKET, GcsEnv, ServiceAccountFile
from tests.servers.gcs_google import JWT_GRANT

from .gcs_support import _assert_no_secrets, _Clock, _roundtrip, _unique

pytestmark = pytest.mark.timeout(60)


# -- credentials: browser and cache ------------------------------------------------------------


class _HeadlessClient:
    """Plays the user: GETs the consent URL (following redirects back to the local server)."""

    def __init__(self) -> None:
        self.visited: list[str] = []
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def visit(self, url: str) -> None:
        def run() -> None:
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    r.read()
            except Exception as exc:  # the redirect server answers 200; keep anything else
                self.errors.append(exc)

        self.visited.append(url)
        t = threading.Thread(target=run, daemon=True)
        self.threads.append(t)
        t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(10)


class _StderrWatcher:
    """Stands in for sys.stderr (``with watcher:``): when the flow prints the consent URL, a
    headless client visits it."""

    def __init__(self, auth_uri: str, client: _HeadlessClient, visit: bool = True) -> None:
        self.auth_uri, self.client, self.visit = auth_uri, client, visit
        self.text = ""
        self._saved: Any = None

    def __enter__(self) -> _StderrWatcher:
        self._saved, sys.stderr = sys.stderr, self
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stderr = self._saved

    def write(self, s: str) -> int:
        self.text += s
        for word in s.split():
            if word.startswith(self.auth_uri + "?") and self.visit:
                self.client.visit(word)
        return len(s)

    def flush(self) -> None:
        pass


@pytest.fixture
def headless(gcs_env: GcsEnv) -> Iterator[_StderrWatcher]:
    """Patches sys.stderr in the test body (pytest's capture resets it after fixture setup):
    use as ``with headless as watcher``."""
    client = _HeadlessClient()
    watcher = _StderrWatcher(gcs_env.google.auth_uri, client)
    yield watcher
    client.join()


def _browser_creds(env: GcsEnv, secret: str = "browser-secret-123", **kw: Any) -> dict[str, Any]:
    env.google.add_client("shoal-desktop", "browser-secret-123")
    return {"method": "browser", "client_id": "shoal-desktop", "client_secret": secret, **kw}


async def test_browser_flow_prints_url_and_saves_login(
    gcs_env: GcsEnv, headless: _StderrWatcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with headless:
        creds = _browser_creds(gcs_env, browser_timeout=10)
        async with await GcsStorage.open(_unique("browser"), creds=creds) as s:
            await _roundtrip(s)
    assert headless.client.visited and not headless.client.errors
    assert "open this URL in a browser" in headless.text
    assert gcs_env.google.grants == ["authorization_code"]
    cache = gcs_env.token_cache
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    saved = json.loads(cache.read_text())
    assert saved["type"] == "authorized_user" and saved["refresh_token"].startswith("1//fake")
    _assert_no_secrets(headless.text + caplog.text, gcs_env.google)

    # creds="cache" reuses and refreshes it, with no browser
    headless.visit = False
    with headless:
        async with await GcsStorage.open(_unique("cache"), creds="cache") as s:
            await _roundtrip(s)
            assert str(cache) in s.auth.description
    assert gcs_env.google.grants == ["authorization_code", "refresh_token"]
    assert len(headless.client.visited) == 1


async def test_browser_flow_opens_a_browser_when_there_is_one(
    gcs_env: GcsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _HeadlessClient()

    class Browser:
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            client.visit(url)
            return True

    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(webbrowser, "get", lambda *a: Browser())
    # the OAuth client comes from gcloud's ADC file, as in Deep Lake
    gcs_env.adc_file.write_text(
        json.dumps({"client_id": "gcloud-cli", "client_secret": "gcloud-secret"})
    )
    gcs_env.google.add_client("gcloud-cli", "gcloud-secret")
    with _StderrWatcher(gcs_env.google.auth_uri, client, visit=False):
        async with await GcsStorage.open(_unique("browser"), creds="browser") as s:
            await _roundtrip(s)
    client.join()
    assert len(client.visited) == 1 and not client.errors


async def test_browser_flow_wrong_client_secret(gcs_env: GcsEnv, headless: _StderrWatcher) -> None:
    creds = _browser_creds(gcs_env, secret="wrong-secret-456", browser_timeout=10)
    with headless, pytest.raises(CredentialsError) as info:
        await GcsStorage.open(_unique("browser"), creds=creds)
    msg = str(info.value)
    assert "browser login" in msg and "rejected" in msg and "invalid_client" in msg
    _assert_no_secrets(msg, gcs_env.google, "wrong-secret-456")
    assert not gcs_env.token_cache.exists()


async def test_browser_flow_denied(gcs_env: GcsEnv, headless: _StderrWatcher) -> None:
    creds = _browser_creds(gcs_env, browser_timeout=10)
    gcs_env.google.deny_clients.add("shoal-desktop")
    try:
        with headless, pytest.raises(CredentialsError, match="not authorized.*access_denied"):
            await GcsStorage.open(_unique("browser"), creds=creds)
    finally:
        gcs_env.google.deny_clients.discard("shoal-desktop")


async def test_browser_flow_times_out(gcs_env: GcsEnv, headless: _StderrWatcher) -> None:
    headless.visit = False
    t0 = time.monotonic()
    with headless, pytest.raises(CredentialsError, match="timed out after 1 s"):
        await GcsStorage.open(_unique("browser"), creds=_browser_creds(gcs_env, browser_timeout=1))
    assert time.monotonic() - t0 < 5


async def test_browser_flow_needs_an_oauth_client(gcs_env: GcsEnv) -> None:
    with pytest.raises(CredentialsError, match="SHOAL_GCS_CLIENT_ID"):
        await GcsStorage.open(BUCKET, creds="browser")


async def test_cache_missing_revoked_and_loose_permissions(
    gcs_env: GcsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(CredentialsError, match="no cached Google login.*creds='browser'"):
        await GcsStorage.open(BUCKET, creds="cache")
    rt = gcs_env.google.add_user("c1", "cache-secret-789", "bob@example.com")
    cache = gcs_env.token_cache
    cache.parent.mkdir(parents=True)
    cache.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "c1",
                "client_secret": "cache-secret-789",
                "refresh_token": rt,
                "token_uri": gcs_env.google.token_uri,
            }
        )
    )
    os.chmod(cache, 0o644)
    async with await GcsStorage.open(_unique("cache"), creds="cache") as s:
        await _roundtrip(s)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    gcs_env.google.revoke_refresh_token(rt)
    with pytest.raises(CredentialsError) as info:
        await GcsStorage.open(_unique("cache"), creds="cache")
    assert "cached browser login" in str(info.value) and "creds='browser'" in str(info.value)
    _assert_no_secrets(str(info.value) + caplog.text, gcs_env.google, rt, "cache-secret-789")


# -- token lifetime: refresh before expiry, single flight, re-auth on 401 ---------------------


async def test_single_flight_and_refresh_before_expiry(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    google = gcs_env.google
    # A 5 s lifetime leaves room for a loaded CI machine; the phases are fractions of it.
    google.ttl = 5
    s = await GcsStorage.open(_unique("ttl"), creds=str(gcs_service_account.path), check=False)
    s.auth.clock = clock = _Clock()  # before the first token: its lifetime runs on this clock
    try:
        await s.put("k", b"v")
        google.grants.clear()
        await asyncio.gather(*(s.get("k") for _ in range(50)))
        assert google.grants == []  # the cached token serves all
        clock.advance(4.0)  # inside the last 25%: one background refresh, no waiting
        t0 = time.monotonic()
        await asyncio.gather(*(s.get("k") for _ in range(50)))
        await asyncio.sleep(0.3)
        assert google.grants == [JWT_GRANT]
        clock.advance(5.2)  # past expiry: all 50 wait for the one refresh
        await asyncio.gather(*(s.get("k") for _ in range(50)))
        assert google.grants == [JWT_GRANT, JWT_GRANT]
        assert time.monotonic() - t0 < 15
        assert all(st == 200 for _m, _p, _w, st in gcs_env.server.proxy.seen if _m == "GET")
    finally:
        await s.close()


async def test_revoked_access_token_is_replaced_once(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    async with await GcsStorage.open(_unique("rev"), creds=str(gcs_service_account.path)) as s:
        await s.put("k", b"v")
        gcs_env.google.revoke_access_tokens()
        gcs_env.google.grants.clear()
        assert await s.get("k") == b"v"
        assert gcs_env.google.grants == [JWT_GRANT]


async def test_no_permission_on_bucket_is_403(
    gcs_env: GcsEnv, tmp_path: Path, gcs_service_account: ServiceAccountFile
) -> None:
    reader = gcs_env.google.add_service_account("reader@test-proj.iam.gserviceaccount.com")
    path = reader.write(tmp_path / "reader.json")
    gcs_env.server.proxy.grants[reader.email] = {BUCKET}
    async with await GcsStorage.open(LOCKED_BUCKET, creds=str(path)) as s:  # list may be denied
        with pytest.raises(CredentialsError) as info:
            await s.get("anything")
    msg = str(info.value)
    assert "reader@test-proj" in msg and "HTTP 403" in msg and "roles/storage.objectViewer" in msg
