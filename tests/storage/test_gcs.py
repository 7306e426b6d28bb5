"""gcs:// for real on loopback: fake-gcs-server behind a proxy that checks bearer tokens issued
by a local Google token endpoint (which verifies service-account JWTs against the keys the
fixtures generate), a local GCE metadata stand-in, and the browser flow completed by a headless
client. Every credential option works with the right credentials and fails clearly with wrong
ones; bad input fails fast with a specific error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import stat
import sys
import threading
import time
import urllib.request
import uuid
import webbrowser
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.auth import gcs as gcs_auth
from shoal.errors import (
    BucketNotFoundError,
    CredentialsError,
    InvalidCredsError,
    PathError,
    StorageConnectionError,
    StorageError,
)
from shoal.storage import Storage
from shoal.storage._gcs import GcsOptions, GcsStorage, parse_location
from tests.servers.gcs_emulator import Fault
from tests.servers.gcs_fixtures import (
    BUCKET,
    LOCKED_BUCKET,
    PUBLIC_BUCKET,
    PUBLIC_OBJECT,
    GcsEnv,
    ServiceAccountFile,
)
from tests.servers.gcs_google import JWT_GRANT, FakeGoogle, ServiceAccountKey

from .conformance import StorageConformance

pytestmark = pytest.mark.timeout(60)

FAST = GcsOptions(max_attempts=2, timeout=5.0, backoff_base=0.01, backoff_max=0.05)


def _unique(name: str) -> str:
    return f"{BUCKET}/{name}-{uuid.uuid4().hex[:8]}"


async def _roundtrip(store: GcsStorage) -> None:
    await store.put("probe/x", b"hello world")
    assert await store.get_range("probe/x", 6, 11) == b"world"
    assert await store.list("probe/") == ["probe/x"]


def _assert_no_secrets(text: str, google: FakeGoogle, *more: str) -> None:
    """No access token, refresh token, client secret or key material in ``text``."""
    for tok in list(google.tokens):
        assert tok not in text
    for rt in list(google.refresh_tokens):
        assert rt not in text
    for secret in list(google.clients.values()) + [m for m in more if m]:
        assert secret not in text
    assert "PRIVATE KEY" not in text


class _Clock:
    """A token cache's clock that moves only when told: tests skip through token lifetimes
    instead of sleeping. Starts at ``time.monotonic()``, like the clock it replaces."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _key_secret(sa: ServiceAccountKey) -> str:
    """A distinctive slice of the private key's PEM body."""
    return sa.pem.splitlines()[5]


# -- conformance -----------------------------------------------------------------------------


class TestGcsConformance(StorageConformance):
    @pytest.fixture
    async def store(
        self, gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
    ) -> AsyncIterator[Storage]:
        s = await GcsStorage.open(_unique("conf"), creds=str(gcs_service_account.path))
        yield s
        await s.close()

    @pytest.fixture
    async def read_only_store(
        self, gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
    ) -> AsyncIterator[Storage]:
        s = await GcsStorage.open(
            _unique("conf-ro"), creds=str(gcs_service_account.path), read_only=True
        )
        yield s
        await s.close()

    async def test_keys_land_under_the_prefix(self, store: GcsStorage, gcs_env: GcsEnv) -> None:
        await store.put("a/b", b"1")
        assert gcs_env.server.objects(BUCKET, store.prefix + "/") == [f"{store.prefix}/a/b"]
        assert gcs_env.server.read(BUCKET, f"{store.prefix}/a/b") == b"1"

    async def test_list_pages(self, store: GcsStorage, gcs_env: GcsEnv) -> None:
        keys = [f"p/{i:04d}" for i in range(123)]
        await store.put_many(dict.fromkeys(keys, b""))
        store.options = dataclasses.replace(store.options, list_page_size=50)
        gcs_env.server.proxy.reset()
        assert await store.list("p/") == keys
        assert len(gcs_env.server.proxy.seen) == 3  # pages of 50, 50, 23

    async def test_memoryview_and_bytearray(self, store: GcsStorage) -> None:
        arr = np.arange(1000, dtype=np.uint16)
        await store.put("mv", memoryview(arr.data))
        await store.put("ba", bytearray(b"abc"))
        assert await store.get("mv") == arr.tobytes()
        assert await store.get("ba") == b"abc"


# -- credentials: service account ------------------------------------------------------------


async def test_service_account_key_file(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    async with await GcsStorage.open(_unique("sa"), creds=str(gcs_service_account.path)) as s:
        await _roundtrip(s)
        assert gcs_service_account.email in s.auth.description
        assert str(gcs_service_account.path) in s.auth.description
    assert gcs_env.google.grants == [JWT_GRANT]  # one token for everything
    scopes = {t.scope for t in gcs_env.google.tokens.values()}
    assert gcs_auth.SCOPE_READ_WRITE in scopes


async def test_service_account_read_only_asks_for_read_only_scope(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    gcs_env.google.tokens.clear()
    async with await GcsStorage.open(
        BUCKET, creds=str(gcs_service_account.path), read_only=True
    ) as s:
        await s.exists("nothing")
    assert [t.scope for t in gcs_env.google.tokens.values()] == [gcs_auth.SCOPE_READ_ONLY]


async def test_service_account_wrong_key_is_rejected(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile, tmp_path: Path
) -> None:
    forged = ServiceAccountKey.generate(gcs_service_account.email, gcs_env.google.token_uri)
    path = forged.write(tmp_path / "forged.json")
    t0 = time.monotonic()
    with pytest.raises(CredentialsError) as info:
        await GcsStorage.open(_unique("sa"), creds=str(path))
    assert time.monotonic() - t0 < 5  # a rejected key is not retried for seconds
    msg = str(info.value)
    assert gcs_service_account.email in msg and str(path) in msg
    assert "rejected" in msg and "Invalid JWT Signature" in msg and "new JSON key" in msg
    _assert_no_secrets(msg, gcs_env.google, _key_secret(forged))
    assert isinstance(info.value, PermissionError)


async def test_service_account_dict(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    async with await GcsStorage.open(_unique("sa"), creds=gcs_service_account.info()) as s:
        await _roundtrip(s)
        assert "creds dict" in s.auth.description
        assert _key_secret(gcs_service_account.key) not in repr(s)


async def test_service_account_dict_wrong_key(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    forged = ServiceAccountKey.generate(gcs_service_account.email, gcs_env.google.token_uri)
    with pytest.raises(CredentialsError, match="creds dict.*rejected") as info:
        await GcsStorage.open(_unique("sa"), creds=forged.info())
    _assert_no_secrets(str(info.value), gcs_env.google, _key_secret(forged))


async def test_json_credentials_dict(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    creds = {"json_credentials": json.dumps(gcs_service_account.info())}
    async with await GcsStorage.open(_unique("sa"), creds=creds) as s:
        await _roundtrip(s)


async def test_unknown_account_and_token_endpoint_down(
    gcs_env: GcsEnv, tmp_path: Path, gcs_closed_port: int
) -> None:
    stranger = ServiceAccountKey.generate("nobody@x.iam.gserviceaccount.com", "unused")
    stranger.token_uri = gcs_env.google.token_uri
    with pytest.raises(CredentialsError, match="nobody@x.*account not found"):
        await GcsStorage.open(_unique("sa"), creds=stranger.info())
    stranger.token_uri = f"http://127.0.0.1:{gcs_closed_port}/token"
    with pytest.raises(StorageConnectionError) as info:
        await GcsStorage.open(_unique("sa"), creds=stranger.info())
    assert f"127.0.0.1:{gcs_closed_port}/token" in str(info.value)
    assert "nobody@x" in str(info.value)


# -- credentials: google_default (GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC, GCE) -----------


@pytest.mark.parametrize("creds", [None, "google_default"])
async def test_google_application_credentials(
    gcs_env: GcsEnv,
    gcs_service_account: ServiceAccountFile,
    monkeypatch: pytest.MonkeyPatch,
    creds: str | None,
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(gcs_service_account.path))
    async with await GcsStorage.open(_unique("gac"), creds=creds) as s:
        await _roundtrip(s)
        assert "GOOGLE_APPLICATION_CREDENTIALS" in s.auth.description


async def test_google_application_credentials_broken_is_an_error(
    gcs_env: GcsEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    with pytest.raises(CredentialsError, match="GOOGLE_APPLICATION_CREDENTIALS.*does not exist"):
        await GcsStorage.open(BUCKET)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(bad))
    t0 = time.monotonic()
    with pytest.raises(CredentialsError, match="not valid JSON"):  # never a silent fallback
        await GcsStorage.open(BUCKET, creds="google_default")
    assert time.monotonic() - t0 < 2


def _write_adc(env: GcsEnv, client_id: str = "adc-client") -> str:
    rt = env.google.add_user(client_id, "adc-secret-XYZ", "alice@example.com")
    env.adc_file.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": client_id,
                "client_secret": "adc-secret-XYZ",
                "refresh_token": rt,
            }
        )
    )
    return rt


async def test_gcloud_application_default_credentials(gcs_env: GcsEnv) -> None:
    _write_adc(gcs_env)
    async with await GcsStorage.open(_unique("adc"), creds="google_default") as s:
        await _roundtrip(s)
        assert str(gcs_env.adc_file) in s.auth.description
    assert gcs_env.google.grants == ["refresh_token"]


async def test_gcloud_application_default_credentials_revoked(gcs_env: GcsEnv) -> None:
    rt = _write_adc(gcs_env)
    gcs_env.google.revoke_refresh_token(rt)
    with pytest.raises(CredentialsError) as info:
        await GcsStorage.open(_unique("adc"), creds="google_default")
    msg = str(info.value)
    assert "application-default" in msg and "expired or revoked" in msg
    assert "gcloud auth application-default login" in msg
    _assert_no_secrets(msg, gcs_env.google, rt, "adc-secret-XYZ")


async def test_gce_metadata(gcs_env: GcsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", gcs_env.google.metadata_host)
    async with await GcsStorage.open(_unique("gce"), creds="google_default") as s:
        await _roundtrip(s)
        assert "GCE metadata server" in s.auth.description
    assert gcs_env.google.grants == ["gce"]


async def test_gce_metadata_without_service_account(
    gcs_env: GcsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", gcs_env.google.metadata_host)
    gcs_env.google.gce_enabled = False
    with pytest.raises(CredentialsError) as info:
        await GcsStorage.open(_unique("gce"), creds="google_default")
    msg = str(info.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS is not set" in msg
    assert str(gcs_env.adc_file) in msg and "GCE metadata server" in msg and "404" in msg
    assert "creds='anon'" in msg  # says what to do


async def test_google_default_with_nothing_fails_fast(gcs_env: GcsEnv) -> None:
    t0 = time.monotonic()
    with pytest.raises(CredentialsError, match="no Google credentials found for gcs://"):
        await GcsStorage.open(BUCKET, creds="google_default")
    assert time.monotonic() - t0 < 3


def _impersonation_file(env: GcsEnv, path: Path, target: str) -> str:
    rt = env.google.add_user("imp-client", "imp-secret", "carol@example.com")
    path.write_text(
        json.dumps(
            {
                "type": "impersonated_service_account",
                "service_account_impersonation_url": env.google.impersonation_url(target),
                "token_uri": env.google.token_uri,
                "source_credentials": {
                    "type": "authorized_user",
                    "client_id": "imp-client",
                    "client_secret": "imp-secret",
                    "refresh_token": rt,
                },
            }
        )
    )
    return rt


async def test_impersonated_service_account(gcs_env: GcsEnv, tmp_path: Path) -> None:
    target = "target@test-proj.iam.gserviceaccount.com"
    path = tmp_path / "imp.json"
    _impersonation_file(gcs_env, path, target)
    gcs_env.google.impersonation["carol@example.com"] = {target}
    async with await GcsStorage.open(_unique("imp"), creds=str(path)) as s:
        await _roundtrip(s)
        assert "impersonated_service_account" in s.auth.description
    assert gcs_env.google.grants == ["refresh_token", "impersonate"]
    gcs_env.google.impersonation.clear()
    with pytest.raises(CredentialsError, match=r"impersonated_service_account.*HTTP 403"):
        await GcsStorage.open(_unique("imp"), creds=str(path))


# -- credentials: none, anon, pre-issued token -----------------------------------------------


async def test_no_creds_and_nothing_found_is_anonymous(gcs_env: GcsEnv) -> None:
    async with await GcsStorage.open(PUBLIC_BUCKET) as s:
        assert s.auth.anonymous
        assert await s.get(PUBLIC_OBJECT[0]) == PUBLIC_OBJECT[1]
    with pytest.raises(CredentialsError) as info:
        await GcsStorage.open(BUCKET)
    msg = str(info.value)
    assert "no creds were given" in msg and "HTTP 401" in msg and "not public" in msg


async def test_anon_public_bucket(gcs_env: GcsEnv) -> None:
    async with await GcsStorage.open(PUBLIC_BUCKET, creds="anon", read_only=True) as s:
        assert await s.get_range(PUBLIC_OBJECT[0], 0, 5) == PUBLIC_OBJECT[1][:5]
        assert await s.exists(PUBLIC_OBJECT[0])
        assert PUBLIC_OBJECT[0] in await s.list()
    assert all(w == "anon" for _m, _p, w, _s in gcs_env.server.proxy.seen)


async def test_anon_private_bucket_and_anon_writes_are_refused(gcs_env: GcsEnv) -> None:
    with pytest.raises(CredentialsError) as info:
        await GcsStorage.open(_unique("anon"), creds="anon")
    msg = str(info.value)
    assert "gcs://shoal-test/anon-" in msg and "creds='anon'" in msg and "not public" in msg
    async with await GcsStorage.open(PUBLIC_BUCKET, creds="anon") as s:
        with pytest.raises(CredentialsError, match="refused to write 'x'"):
            await s.put("x", b"1")


async def test_pre_issued_token(gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile) -> None:
    async with await GcsStorage.open(BUCKET, creds=str(gcs_service_account.path)) as s:
        token = await s.auth.token()
    creds = {"gcs_oauth_token": token, "expires_in": 600}
    async with await GcsStorage.open(_unique("tok"), creds=creds) as s:
        await _roundtrip(s)
    with pytest.raises(CredentialsError) as info:
        await GcsStorage.open(_unique("tok"), creds={"gcs_oauth_token": "ya29.bogus-value"})
    assert "gcs_oauth_token" in str(info.value) and "bogus-value" not in str(info.value)
    expired = {"gcs_oauth_token": token, "expiration": time.time() - 5}
    with pytest.raises(CredentialsError, match="has expired"):
        await GcsStorage.open(_unique("tok"), creds=expired)


async def test_vended_tokens_are_refreshed(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    """The platform's shape: a short-lived token plus a callable that vends the next one."""
    gcs_env.google.ttl = 1
    source = await GcsStorage.open(BUCKET, creds=str(gcs_service_account.path), check=False)
    calls = 0

    async def vend() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        source.auth.invalidate(time.monotonic() + 1)  # force a fresh one from the source
        return {"gcs_oauth_token": await source.auth.token(), "expiration": time.time() + 1}

    first = await vend()
    try:
        async with await GcsStorage.open(_unique("vend"), creds=first, refresh=vend) as s:
            s.auth.clock = clock = _Clock()
            await s.put("k", b"v")
            clock.advance(1.1)  # the first token has expired by now
            assert await s.get("k") == b"v"
        assert calls == 2
    finally:
        await source.close()


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


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("", "names no bucket"),
        ("/x", "names no bucket"),
        ("Upper/x", "lowercase"),
        ("ab", "at least 3"),
        ("-ab/x", "letter or digit"),
        ("a" * 64, "at most 63"),
        ("my..bucket", "dots"),
        ("192.168.1.10", "IP address"),
        ("goog-data", "goog"),
        ("my-google-data", "google"),
        ("ok-bucket/a/../b", "'..'"),
        ("ok-bucket/a//b", "empty"),
    ],
)
def test_invalid_locations(location: str, why: str) -> None:
    with pytest.raises(PathError, match=why) as info:
        parse_location(location)
    assert f"gcs://{location}" in str(info.value)


def test_valid_locations() -> None:
    assert parse_location("my-bucket") == ("my-bucket", "")
    assert parse_location("my_bucket.example.com/a/b/") == ("my_bucket.example.com", "a/b")


@pytest.mark.parametrize(
    ("creds", "match"),
    [
        (42, "got int"),
        ("", "empty string"),
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"method": "browser", "client_secrt": "x"}, "did you mean 'client_secret'"),
        ({"type": "weird"}, "type 'weird'"),
        ({"gcs_oauth_token": ""}, "non-empty string"),
        ({"endpoint_url": "ftp://x"}, "http:// or https://"),
    ],
)
async def test_invalid_creds(gcs_env: GcsEnv, creds: Any, match: str) -> None:
    with pytest.raises(InvalidCredsError, match=match) as info:
        await GcsStorage.open(BUCKET, creds=creds)
    assert isinstance(info.value, ValueError)
    assert "gcs://shoal-test" in str(info.value)


async def test_bad_key_files(gcs_env: GcsEnv, tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match=r"key file .*nope\.json: the file does not exist"):
        await GcsStorage.open(BUCKET, creds=str(tmp_path / "nope.json"))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("PRIVATE KEY garbage")
    with pytest.raises(CredentialsError, match="not valid JSON") as info:
        await GcsStorage.open(BUCKET, creds=str(garbage))
    assert "garbage" not in str(info.value).replace(str(garbage), "")
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps({"type": "service_account", "client_email": "a@b"}))
    with pytest.raises(CredentialsError, match="lacks 'client_email' or 'private_key'"):
        await GcsStorage.open(BUCKET, creds=str(incomplete))
    bad_pem = tmp_path / "bad-pem.json"
    bad_pem.write_text(
        json.dumps({"type": "service_account", "client_email": "a@b", "private_key": "xyz"})
    )
    with pytest.raises(CredentialsError, match="not a valid PEM RSA key"):
        await GcsStorage.open(BUCKET, creds=str(bad_pem))


async def test_nonexistent_bucket(gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile) -> None:
    with pytest.raises(BucketNotFoundError) as info:
        await GcsStorage.open("no-such-bucket-here/ds", creds=str(gcs_service_account.path))
    msg = str(info.value)
    assert "'no-such-bucket-here'" in msg and "gcs://no-such-bucket-here/ds" in msg
    assert "gcloud storage buckets create" in msg
    assert not isinstance(info.value, FileNotFoundError)


async def test_unreachable_endpoint(
    gcs_env: GcsEnv, monkeypatch: pytest.MonkeyPatch, gcs_closed_port: int
) -> None:
    endpoint = f"http://127.0.0.1:{gcs_closed_port}"
    monkeypatch.setenv("SHOAL_GCS_MAX_ATTEMPTS", "2")
    t0 = time.monotonic()
    with pytest.raises(StorageConnectionError) as info:
        await GcsStorage.open(BUCKET, creds={"method": "anon", "endpoint_url": endpoint})
    assert time.monotonic() - t0 < 3
    msg = str(info.value)
    assert endpoint in msg and "gcs://shoal-test" in msg and "after 2 attempts" in msg
    assert isinstance(info.value, ConnectionError)


async def test_timeout_is_bounded(gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile) -> None:
    opts = GcsOptions(max_attempts=2, timeout=0.5, backoff_base=0.01)
    async with await GcsStorage.open(
        _unique("slow"), creds=str(gcs_service_account.path), options=opts
    ) as s:
        await s.put("k", b"v")
        gcs_env.server.proxy.inject(Fault(count=2, status=None, delay=1.5))
        t0 = time.monotonic()
        with pytest.raises(StorageConnectionError, match="no answer within 0.5 s"):
            await s.get("k")
        assert time.monotonic() - t0 < 2.5


def test_malformed_paths_through_the_api() -> None:
    with pytest.raises(PathError, match="no location"):
        shoal.load("gcs://")
    with pytest.raises(PathError, match="not a valid GCS bucket name"):
        shoal.load("gs://Bad_Bucket/ds")


async def test_storage_emulator_host_means_anonymous(
    gcs_env: GcsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOAL_GCS_ENDPOINT_URL")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_env.server.url)
    async with await GcsStorage.open(PUBLIC_BUCKET) as s:
        assert s.auth.anonymous and s.endpoint == gcs_env.server.url
        assert await s.get(PUBLIC_OBJECT[0]) == PUBLIC_OBJECT[1]


# -- retries, concurrency, large objects, cancellation, close ----------------------------------


@pytest.fixture
async def sa_store(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> AsyncIterator[GcsStorage]:
    opts = GcsOptions(backoff_base=0.01, backoff_max=0.05, concurrency=8)
    s = await GcsStorage.open(_unique("rt"), creds=str(gcs_service_account.path), options=opts)
    yield s
    await s.close()


@pytest.mark.parametrize("status", [503, 429, 0])
async def test_transient_failures_are_retried(
    sa_store: GcsStorage, gcs_env: GcsEnv, status: int
) -> None:
    proxy = gcs_env.server.proxy
    proxy.inject(Fault(count=2, status=status))  # 0: the connection is dropped
    await sa_store.put("k", b"payload")
    proxy.inject(Fault(count=2, status=status))
    assert await sa_store.get_range("k", 1, 4) == b"ayl"
    assert [st for _m, _p, _w, st in proxy.seen].count(status) == 4


async def test_persistent_failure_gives_up(sa_store: GcsStorage, gcs_env: GcsEnv) -> None:
    gcs_env.server.proxy.inject(Fault(count=100, status=503))
    with pytest.raises(StorageError, match="HTTP 503.*after 5 attempts.*try again later"):
        await sa_store.get("k")
    gcs_env.server.proxy.reset()


async def test_concurrency_is_bounded(sa_store: GcsStorage, gcs_env: GcsEnv) -> None:
    await sa_store.put_many({f"c/{i}": b"x" for i in range(40)})
    proxy = gcs_env.server.proxy
    proxy.reset()
    base = proxy.in_flight  # requests an earlier test abandoned may still be in the proxy
    proxy.inject(Fault(count=40, status=None, delay=0.05))
    await asyncio.gather(*(sa_store.get(f"c/{i}") for i in range(40)))
    assert 2 <= proxy.max_in_flight - base <= 8


async def test_resumable_upload_in_pieces(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    opts = GcsOptions(resumable_threshold=300_000, resumable_chunk=256 * 1024, backoff_base=0.01)
    data = np.random.default_rng(0).integers(0, 255, 1_100_000, dtype=np.uint8).tobytes()
    async with await GcsStorage.open(
        _unique("big"), creds=str(gcs_service_account.path), options=opts
    ) as s:
        proxy = gcs_env.server.proxy
        proxy.reset()
        await s.put("big", data)
        puts = [p for m, p, _w, st in proxy.seen if m == "PUT"]
        assert len(puts) == 5  # 4 full pieces of 256 KiB and the rest
        assert all(w != "anon" for _m, _p, w, _st in proxy.seen)  # every piece authenticated
        assert await s.get("big") == data
        # a piece fails: the upload resumes (or restarts) and the object is still exact
        proxy.reset()
        proxy.inject(Fault(count=1, status=503, match=lambda r: r.method == "PUT"))
        await s.put("big2", memoryview(data))
        assert await s.get("big2") == data
        assert await s.get_range("big2", 500_000, 500_010) == data[500_000:500_010]


async def test_cancellation_releases_everything(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    opts = GcsOptions(concurrency=1)
    async with await GcsStorage.open(
        _unique("cancel"), creds=str(gcs_service_account.path), options=opts
    ) as s:
        await s.put("k", b"v")
        gcs_env.server.proxy.inject(Fault(count=1, status=None, delay=2))
        task = asyncio.create_task(s.get("k"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.wait_for(s.get("k"), 3) == b"v"  # the one slot was given back


async def test_closed_store_refuses_and_close_is_idempotent(sa_store: GcsStorage) -> None:
    await sa_store.close()
    await sa_store.close()
    with pytest.raises(StorageError, match="is closed"):
        await sa_store.get("k")


async def test_dropped_store_is_closed_by_its_finalizer(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    import gc

    s = await GcsStorage.open(_unique("gc"), creds=str(gcs_service_account.path))
    http = s._http
    assert http is not None and not http.closed
    del s
    gc.collect()
    for _ in range(50):
        if http.closed:
            break
        await asyncio.sleep(0.01)
    assert http.closed


async def test_reprs_hold_no_secrets(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    spec = gcs_auth.GcsCredsSpec.parse(gcs_service_account.info(), path="gcs://b")
    async with await GcsStorage.open(_unique("repr"), creds=gcs_service_account.info()) as s:
        await s.exists("x")
        text = repr(s) + repr(s.auth) + repr(spec) + repr(s.auth._source)
    _assert_no_secrets(text, gcs_env.google, _key_secret(gcs_service_account.key))
    assert gcs_service_account.email in text


# -- datasets through the normal API -----------------------------------------------------------


@pytest.mark.parametrize("scheme", ["gcs", "gs"])
def test_dataset_roundtrip(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile, scheme: str
) -> None:
    path = f"{scheme}://{_unique('ds')}"
    creds = str(gcs_service_account.path)
    ds = shoal.empty(path, creds=creds)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    data = np.arange(60, dtype=np.int32).reshape(20, 3)
    ds.x.extend(data)
    ds.labels.extend(["dog", "cat"] * 10)
    ds.flush()
    assert shoal.exists(path, creds=creds)
    again = shoal.load(path, creds=creds, read_only=True)
    np.testing.assert_array_equal(again.x.numpy(), data)
    np.testing.assert_array_equal(again.x[5:9].numpy(), data[5:9])
    assert again.labels[0].numpy().tolist() == [1]
    bucket, _, prefix = path.partition("://")[2].partition("/")
    assert f"{prefix}/dataset_meta.json" in gcs_env.server.objects(bucket, prefix + "/")
    shoal.delete(path, creds=creds)
    assert gcs_env.server.objects(bucket, prefix + "/") == []


def test_dataset_with_wrong_creds_fails_clearly(gcs_env: GcsEnv, tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="anonymous access.*not public"):
        shoal.load(f"gcs://{_unique('ds')}", creds="anon")
    with pytest.raises(CredentialsError, match=r"key file .*does not exist"):
        shoal.empty(f"gcs://{_unique('ds')}", creds=str(tmp_path / "missing.json"))


def test_missing_dataset_is_not_found(
    gcs_env: GcsEnv, gcs_service_account: ServiceAccountFile
) -> None:
    path = f"gcs://{_unique('ds')}"
    assert not shoal.exists(path, creds=str(gcs_service_account.path))
    with pytest.raises(FileNotFoundError):
        shoal.load(path, creds=str(gcs_service_account.path))
