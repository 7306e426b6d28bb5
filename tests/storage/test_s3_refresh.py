"""s3:// credential refresh against a real SeaweedFS on loopback: before expiry, single flight,
a long job survives rotation, and platform-vended credentials are refreshed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Any

import pytest

from shoal.auth import aws
from shoal.errors import CredentialsError
from tests.servers.aws_meta import FakeAwsMeta
from tests.servers.faults import FaultProxy
from tests.servers.s3_fixtures import ROLE_RW, S3Server

from .s3_support import MiB, OpenS3, _clean, _proxy_opts, _roundtrip

# ----------------------------------------------------------------------------------------------
# refresh: before expiry, single flight, and a long job survives rotation


def _fake_creds(n: int, seconds: float) -> dict[str, Any]:
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return {
        "access_key": f"ASIAFAKE{n:08d}",
        "secret_key": f"fake-secret-{n:020d}",
        "token": f"fake-token-{n:020d}",
        "expiry_time": expiry.isoformat(),
    }


async def test_refresh_is_single_flight() -> None:
    calls = 0

    async def fetch() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        return _fake_creds(calls, 600)

    creds = aws.AdaptiveRefreshableCredentials(fetch, "shoal-vended")  # deferred: no fetch yet
    frozen = await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(50)))
    assert calls == 1 and {f.access_key for f in frozen} == {"ASIAFAKE00000001"}
    # 600 s credentials: botocore's fixed 15-minute window would refresh on every request
    assert not creds.refresh_needed()
    await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(50)))
    assert calls == 1


async def test_refresh_before_expiry_once_for_all_waiters() -> None:
    calls = 0

    async def fetch() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return _fake_creds(calls, 2.0)

    now = dt.datetime.now(dt.UTC)
    clock = {"now": now}
    creds = aws.AdaptiveRefreshableCredentials(
        fetch, "container-role", initial=_fake_creds(0, 2.0), clock=lambda: clock["now"]
    )
    assert calls == 0
    # inside the last quarter of the lifetime: everyone must wait (the clock moves, no sleep)
    clock["now"] = now + dt.timedelta(seconds=1.6)
    frozen = await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(30)))
    assert calls == 1
    assert {f.access_key for f in frozen} == {"ASIAFAKE00000001"}  # nobody used the old ones


async def test_long_upload_and_reads_survive_rotation(
    open_s3: OpenS3,
    s3_server: S3Server,
    aws_meta: FakeAwsMeta,
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Container credentials that live TOKEN_SECONDS (real SeaweedFS STS, really expiring);
    a multipart upload slowed down to outlast them, and reads all along."""
    first: dict[str, Any] = {}

    def vend_short() -> dict[str, Any]:
        c = s3_server.vend(ROLE_RW)  # no DurationSeconds: the server's short default
        first.setdefault("creds", c)
        return c

    monkeypatch.setattr(aws_meta, "vend", vend_short)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", aws_meta.url + "/creds")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", aws_meta.container_auth)
    before = aws_meta.calls["container"]
    opts = _proxy_opts(multipart_threshold=8 * MiB, part_size=5 * MiB, parts_in_flight=1)
    store = await open_s3({"endpoint_url": fault_proxy.url}, options=opts)
    await store.put("small", b"abc")
    data = os.urandom(15 * MiB)  # 3 parts, each answered 3 s late: about 9 s in all
    fault_proxy.inject("lag", times=3, method="PUT", contains="partNumber", delay=3.0)
    stop = asyncio.Event()

    async def reader() -> int:
        n = 0
        while not stop.is_set():
            results = await asyncio.gather(*(store.get("small") for _ in range(8)))
            assert results == [b"abc"] * 8
            n += 1
            await asyncio.sleep(0.2)
        return n

    reads = asyncio.create_task(reader())
    await store.put("big", data)
    stop.set()
    assert await reads > 10
    assert await store.get("big") == data
    expiry = first["creds"]["Expiration"]
    assert dt.datetime.now(dt.UTC) > expiry  # the first credentials expired during the job
    fetched = aws_meta.calls["container"] - before
    assert 2 <= fetched <= 5  # refreshed, but not per request (about 60 requests were made)
    # ... and really expired: with them alone the store now refuses us
    c = first["creds"]
    stale = await open_s3(
        s3_server.creds(
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["Token"],
        )
    )
    with pytest.raises(CredentialsError) as info:
        await stale.get("small")
    assert "temporary credentials may have expired" in _clean(info.value, c["Token"])


async def test_vended_credentials_refresher(open_s3: OpenS3, s3_server: S3Server) -> None:
    """The hook the platform uses: an async source of short-lived credentials."""
    calls = 0

    async def vend() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        c = await asyncio.to_thread(s3_server.vend, ROLE_RW, 900)
        return {
            "access_key": c["AccessKeyId"],
            "secret_key": c["SecretAccessKey"],
            "token": c["Token"],
            "expiry_time": c["Expiration"].isoformat(),
        }

    store = await open_s3({"endpoint_url": s3_server.endpoint}, refresh=vend)
    await _roundtrip(store)
    await _roundtrip(store)
    assert calls == 1
    assert "vended by the dataset platform" in store.credential_source
