"""Vended GCS tokens are downscoped: the platform exchanges the key's token at (a loopback
stand-in for) Google STS for one with a Credential Access Boundary, and the bearer-checking
proxy in front of fake-gcs-server enforces it: the dataset's prefix only, read-only for
readers, nothing in other buckets."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.gcs_fixtures import BUCKET, LOCKED_BUCKET, GcsEnv, ServiceAccountFile

from .conftest import StartPlatform
from .orgs import Org, make_org


@pytest.fixture
def org(
    start_platform: StartPlatform,
    gcs_env: GcsEnv,
    gcs_service_account: ServiceAccountFile,
    client_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Org]:
    monkeypatch.setenv("SHOAL_GCS_STS_URI", f"{gcs_env.google.url}/v1/token")
    p = start_platform(creds_ttl=60, scrypt_n=1024)  # gcs_downscope is on by default
    o = make_org(p)
    key = json.loads(gcs_service_account.path.read_text())
    o.add_key("gkey", "gcs-key", {**key, "endpoint_url": gcs_env.server.url})
    yield o


def _status(url: str, token: str, method: str = "GET", data: bytes | None = None) -> int:
    req = urllib.request.Request(url, method=method, data=data)
    req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_vended_gcs_tokens_are_scoped(org: Org, gcs_env: GcsEnv) -> None:
    base = gcs_env.server.url
    prefix = f"{org.name}/ds"

    def listing(bucket: str, pfx: str) -> str:
        return f"{base}/storage/v1/b/{bucket}/o?prefix={urllib.parse.quote(pfx)}"

    def upload(name: str) -> str:
        q = urllib.parse.urlencode({"uploadType": "media", "name": name})
        return f"{base}/upload/storage/v1/b/{BUCKET}/o?{q}"

    status, body = org.vend(org.writer, "gkey", f"gcs://{BUCKET}/{prefix}")
    assert status == 200, body
    assert body["scoped"] is True and body["mode"] == "a"
    token = body["creds"]["gcs_oauth_token"]
    assert _status(upload(f"{prefix}/a"), token, "POST", b"1") == 200
    assert _status(listing(BUCKET, f"{prefix}/"), token) == 200
    assert _status(upload(f"{org.name}/other/a"), token, "POST", b"1") == 403
    assert _status(listing(BUCKET, f"{org.name}/other/"), token) == 403
    assert _status(listing(LOCKED_BUCKET, f"{prefix}/"), token) == 403

    status, body = org.vend(org.reader, "gkey", f"gcs://{BUCKET}/{prefix}")
    assert status == 200 and body["mode"] == "r" and body["scoped"] is True
    ro = body["creds"]["gcs_oauth_token"]
    quoted = urllib.parse.quote(f"{prefix}/a", safe="")
    assert _status(f"{base}/storage/v1/b/{BUCKET}/o/{quoted}?alt=media", ro) == 200
    assert _status(upload(f"{prefix}/b"), ro, "POST", b"1") == 403

    # a whole bucket (links to files anywhere in it): everything there, nothing elsewhere
    status, body = org.vend(org.reader, "gkey", f"gcs://{BUCKET}", mode="r")
    assert status == 200 and body["scoped"] is True
    whole = body["creds"]["gcs_oauth_token"]
    assert _status(listing(BUCKET, f"{org.name}/other/"), whole) == 200
    assert _status(listing(LOCKED_BUCKET, ""), whole) == 403
