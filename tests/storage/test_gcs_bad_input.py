"""gcs:// bad input fails fast with a specific error: invalid locations and creds, broken key
files, missing buckets, unreachable endpoints, bounded timeouts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import shoal
from shoal.errors import (
    BucketNotFoundError,
    CredentialsError,
    InvalidCredsError,
    PathError,
    StorageConnectionError,
)
from shoal.storage._gcs import GcsOptions, GcsStorage, parse_location
from tests.servers.gcs_emulator import Fault
from tests.servers.gcs_fixtures import (
    BUCKET,
    PUBLIC_BUCKET,
    PUBLIC_OBJECT,
    GcsEnv,
    ServiceAccountFile,
)

from .gcs_support import _unique

pytestmark = pytest.mark.timeout(60)


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
