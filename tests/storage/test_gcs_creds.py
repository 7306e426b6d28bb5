"""gcs:// credentials for real on loopback: service accounts (verified by a local Google token
endpoint), google_default (GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC, a GCE metadata
stand-in), impersonation, none, anon and pre-issued tokens. Every option works with the right
credentials and fails clearly with wrong ones.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from shoal.auth import gcs as gcs_auth
from shoal.errors import CredentialsError, StorageConnectionError
from shoal.storage._gcs import GcsStorage
from tests.servers.gcs_fixtures import (
    BUCKET,
    PUBLIC_BUCKET,
    PUBLIC_OBJECT,
    GcsEnv,
    ServiceAccountFile,
)
from tests.servers.gcs_google import JWT_GRANT, ServiceAccountKey

from .gcs_support import _assert_no_secrets, _Clock, _key_secret, _roundtrip, _unique

pytestmark = pytest.mark.timeout(60)


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
