"""The s3:// provider against a real SeaweedFS on loopback: conformance, multipart uploads,
coalescing, retries, timeouts, connection pools, bad input, and datasets through the shoal API.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import numpy as np
import pytest

from shoal import routing
from shoal.errors import (
    BucketNotFoundError,
    CredentialsError,
    NotFoundError,
    PathError,
    StorageConnectionError,
    StorageError,
)
from shoal.storage import Storage
from shoal.storage._s3 import S3Options
from tests.servers.faults import FaultProxy
from tests.servers.s3_fixtures import S3Server
from tests.servers.seaweedfs import free_port

from .conformance import StorageConformance
from .s3_support import MiB, OpenS3, _clean, _proxy_opts

# ----------------------------------------------------------------------------------------------
# conformance


class TestS3Conformance(StorageConformance):
    @pytest.fixture
    async def store(self, open_s3: OpenS3) -> Storage:
        return await open_s3()

    @pytest.fixture
    async def read_only_store(self, open_s3: OpenS3) -> Storage:
        return await open_s3(read_only=True)


# ----------------------------------------------------------------------------------------------
# provider behaviour: multipart, coalescing, retries, timeouts, pools


async def test_multipart_roundtrip_no_leftover_uploads(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    opts = _proxy_opts(multipart_threshold=8 * MiB, part_size=5 * MiB)
    store = await open_s3(s3_server.creds(endpoint_url=fault_proxy.url), options=opts)
    data = bytearray(os.urandom(12 * MiB + 123))
    await store.put("big.bin", data)
    assert await store.get("big.bin") == bytes(data)
    methods = fault_proxy.requests
    assert methods >= 5  # create + 3 parts + complete (+ the get)
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket)
    assert not [u for u in uploads.get("Uploads", []) if u["Key"].startswith(store.prefix)]


async def test_multipart_failure_aborts_the_upload(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    opts = _proxy_opts(multipart_threshold=8 * MiB, part_size=5 * MiB, max_attempts=2)
    store = await open_s3(s3_server.creds(endpoint_url=fault_proxy.url), options=opts)
    fault_proxy.inject("internal", times=100, method="PUT", contains="partNumber=2")
    with pytest.raises(StorageError, match="after 2 attempts"):
        await store.put("broken.bin", os.urandom(12 * MiB))
    assert not await store.exists("broken.bin")
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket)
    assert not [u for u in uploads.get("Uploads", []) if u["Key"].startswith(store.prefix)]


async def test_cancelled_multipart_upload_is_aborted(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    opts = _proxy_opts(multipart_threshold=8 * MiB, part_size=5 * MiB, parts_in_flight=1)
    store = await open_s3(s3_server.creds(endpoint_url=fault_proxy.url), options=opts)
    fault_proxy.inject("lag", times=10, method="PUT", contains="partNumber", delay=1.0)
    task = asyncio.create_task(store.put("cancelled.bin", os.urandom(16 * MiB)))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket)
    assert not [u for u in uploads.get("Uploads", []) if u["Key"].startswith(store.prefix)]
    assert not await store.exists("cancelled.bin")
    # the provider is still usable after a cancellation
    await store.put("after", b"ok")
    assert await store.get("after") == b"ok"


async def test_get_ranges_coalesces_neighbours(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url),
        options=_proxy_opts(coalesce_gap=4096, coalesce_max=MiB),
    )
    data = os.urandom(4 * MiB)
    await store.put("chunk", data)
    near = [(i * 2048, i * 2048 + 1024) for i in range(200)]  # 1 KiB gaps: one GET
    fault_proxy.clear()
    got = await store.get_ranges("chunk", near[::-1])  # any order in, same order out
    assert got == [data[s:e] for s, e in near[::-1]]
    assert fault_proxy.requests == 1
    far = [(0, 10), (2 * MiB, 2 * MiB + 10), (5, 20), (4 * MiB - 3, 4 * MiB + 100), (7, 7)]
    fault_proxy.clear()
    got = await store.get_ranges("chunk", far)
    assert got == [data[s:e] for s, e in far]
    assert fault_proxy.requests == 3  # (0,10)+(5,20) merged, 2 MiB, the tail; (7,7) is free
    spread = [(i * MiB // 4, i * MiB // 4 + 100) for i in range(16)]  # gaps > coalesce_gap
    fault_proxy.clear()
    assert await store.get_ranges("chunk", spread) == [data[s:e] for s, e in spread]
    assert fault_proxy.requests == 16
    with pytest.raises(NotFoundError):
        await store.get_ranges("missing", near)


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("slowdown", "GET"),
        ("throttle", "PUT"),
        ("internal", "GET"),
        ("reset", "GET"),
        ("truncate", "GET"),
        ("reset", "PUT"),
    ],
)
async def test_transient_failures_are_retried(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy, kind: Any, method: str
) -> None:
    store = await open_s3(s3_server.creds(endpoint_url=fault_proxy.url), options=_proxy_opts())
    payload = os.urandom(300_000)
    await store.put("obj", payload)
    fault_proxy.inject(kind, times=2, method=method)
    if method == "PUT":
        await store.put("obj", payload[::-1])
        payload = payload[::-1]
    assert await store.get("obj") == payload
    assert fault_proxy.injected[kind] == 2


async def test_persistent_throttling_gives_up_with_a_clear_error(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url), options=_proxy_opts(max_attempts=3)
    )
    fault_proxy.inject("slowdown", times=100, method="GET")
    with pytest.raises(StorageError) as info:
        await store.get("obj")
    assert "SlowDown" in str(info.value) and "after 3 attempts" in str(info.value)
    assert store.url in str(info.value)
    assert fault_proxy.injected["slowdown"] == 3


async def test_every_request_has_a_timeout(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url),
        options=_proxy_opts(request_timeout=0.3, max_attempts=2),
    )
    fault_proxy.inject("stall", times=2, method="GET", delay=3.0)
    t0 = time.monotonic()
    with pytest.raises(StorageConnectionError, match="timed out"):
        await store.get("anything")
    assert time.monotonic() - t0 < 2.0


async def test_concurrency_is_bounded_and_connections_reused(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url), options=_proxy_opts(concurrency=4)
    )
    await store.put_many({f"k{i}": bytes([i]) * 1000 for i in range(40)})
    fault_proxy.clear()
    fault_proxy.inject("lag", times=40, method="GET", delay=0.02)
    got = await store.get_many([f"k{i}" for i in range(40)])
    assert got == [bytes([i]) * 1000 for i in range(40)]
    assert fault_proxy.max_in_flight <= 4
    assert len(fault_proxy.connections) <= 4  # one pool, reused
    pool = set(fault_proxy.connections)
    fault_proxy.clear()
    for i in range(20):
        await store.get(f"k{i}")
    assert fault_proxy.connections <= pool  # no new connection: the pool's are reused


async def test_cancelled_reads_release_their_connections(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url), options=_proxy_opts(concurrency=2)
    )
    await store.put("k", b"v" * 1000)
    fault_proxy.inject("lag", times=2, method="GET", delay=5.0)
    tasks = [asyncio.create_task(store.get("k")) for _ in range(10)]
    await asyncio.sleep(0.3)
    for t in tasks:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    # neither the semaphore slots nor the pool's connections leaked: reads go on at once
    async with asyncio.timeout(5):
        assert await store.get_many(["k"] * 6) == [b"v" * 1000] * 6


async def test_a_forked_child_gets_its_own_pool(
    open_s3: OpenS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_s3()
    await store.put("k", b"v")
    parent_client, parent_stack = store._client, store._stack
    real_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)  # as seen from a forked child
    assert await store.get("k") == b"v"
    assert store._client is not parent_client  # never reuse an inherited pool
    await store.close()  # the child closes its own pool ...
    monkeypatch.undo()
    assert parent_stack is not None
    await parent_stack.aclose()  # ... and the parent its own


async def test_list_pages_and_delete_prefix(open_s3: OpenS3) -> None:
    store = await open_s3(options=S3Options(list_page=7, max_attempts=2))
    keys = {f"d/{i:03d}": b"x" for i in range(30)} | {"e/1": b"y", "d2": b"z"}
    await store.put_many(keys)
    assert await store.list("d/") == sorted(k for k in keys if k.startswith("d/"))
    assert await store.list() == sorted(keys)
    await store.delete_prefix("d/")
    assert await store.list() == ["d2", "e/1"]


async def test_closed_provider_is_unusable(open_s3: OpenS3) -> None:
    store = await open_s3()
    await store.put("k", b"v")
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        await store.get("k")


async def test_invalid_keys_and_ranges(open_s3: OpenS3) -> None:
    store = await open_s3()
    for key in ("", "/abs", "a/../b"):
        with pytest.raises(PathError):
            await store.get(key)
    await store.put("r", b"0123456789")
    assert await store.get_range("r", 5, 5) == b""
    assert await store.get_range("r", 20, None) == b""  # past the end: a short read
    assert await store.get_range("r", 8, 100) == b"89"
    arr = np.arange(24, dtype=np.int32).reshape(2, 3, 4)  # any contiguous buffer is accepted
    await store.put("np", memoryview(arr.data))
    assert await store.get("np") == arr.tobytes()
    await store.put("ba", bytearray(b"xyz"))
    assert await store.get("ba") == b"xyz"


# ----------------------------------------------------------------------------------------------
# bad input: a specific error naming the path, the credential source and what to do; no hangs


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("s4://bucket/ds", "unknown path prefix s4://"),
        ("s3://", "has no location"),
        ("s3:///ds", "names no bucket"),
        ("s3://Bad_Bucket/ds", "invalid S3 bucket name 'Bad_Bucket'"),
        ("s3://ab/ds", "must be 3 to 63 characters"),
        ("s3://192.168.1.10/ds", "IP address"),
        ("s3://shoal-data/a//b", "empty, '.' or '..' path segment"),
        ("s3://shoal-data/a/../b", "empty, '.' or '..' path segment"),
        ("s3://user:hunter2hunter2@shoal-data/ds", "cannot carry credentials"),
    ],
)
async def test_malformed_paths(path: str, message: str) -> None:
    with pytest.raises(PathError) as info:
        await routing.open_storage(
            routing.parse(path), creds={"endpoint_url": "http://127.0.0.1:9"}
        )
    assert message in str(info.value)
    assert "hunter2" not in str(info.value)


async def test_bucket_that_does_not_exist(open_s3: OpenS3, s3_server: S3Server) -> None:
    store = await open_s3(bucket="shoal-no-such-bucket")
    for call in (store.get("k"), store.exists("k"), store.put("k", b"v"), store.list()):
        with pytest.raises(BucketNotFoundError) as info:
            await call
        text = str(info.value)
        assert (
            "'shoal-no-such-bucket' does not exist" in text and "s3://shoal-no-such-bucket" in text
        )
        assert "creds dict" in text and "create the bucket" in text
        assert not isinstance(info.value, FileNotFoundError)  # not "no dataset here"
    assert await store.get_many([]) == []


async def test_unreachable_endpoint_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = free_port()  # nothing listens there
    monkeypatch.setenv("SHOAL_S3_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("SHOAL_S3_CONNECT_TIMEOUT", "1")
    store = await routing.open_storage(
        routing.parse("s3://shoal-data/ds"),
        creds={
            "aws_access_key_id": "AKIDUNREACHABLE0",
            "aws_secret_access_key": "unreachable-secret-0000000000000",
            "endpoint_url": f"http://127.0.0.1:{closed}",
        },
    )
    try:
        t0 = time.monotonic()
        with pytest.raises(StorageConnectionError) as info:
            await store.get("dataset_meta.json")
        assert time.monotonic() - t0 < 3
        text = _clean(info.value, "unreachable-secret-0000000000000")
        assert f"127.0.0.1:{closed}" in text and "s3://shoal-data/ds/dataset_meta.json" in text
        assert "after 2 attempts" in text and "creds dict" in text and "endpoint_url" in text
        assert isinstance(info.value, ConnectionError)
    finally:
        await store.close()


# ----------------------------------------------------------------------------------------------
# datasets through the normal shoal API (needs the native extension)


def test_dataset_roundtrip_on_s3(s3_server: S3Server) -> None:
    import shoal

    path = f"s3://{s3_server.bucket}/datasets/{uuid.uuid4().hex[:8]}"
    creds = s3_server.creds()
    ds = shoal.empty(path, creds=creds)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("labels", htype="class_label")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1000, size=(50, 8, 8)).astype(np.int32)
    ds.x.extend(x)
    ds.labels.extend(np.arange(50) % 3)
    assert shoal.exists(path, creds=creds)
    ro = shoal.load(path, read_only=True, creds=s3_server.creds(s3_server.reader))
    assert len(ro) == 50
    np.testing.assert_array_equal(ro.x.numpy(), x)
    np.testing.assert_array_equal(ro.x[[3, 40, 7]].numpy(), x[[3, 40, 7]])
    with pytest.raises(CredentialsError, match="not allowed to write"):
        shoal.load(path, creds=s3_server.creds(s3_server.reader)).x.append(x[0])
    with pytest.raises(BucketNotFoundError):
        shoal.load("s3://shoal-no-such-bucket/ds", creds=creds)
    # no creds argument: the default chain (here the environment) and AWS_ENDPOINT_URL_S3
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", s3_server.reader.access_key)
        mp.setenv("AWS_SECRET_ACCESS_KEY", s3_server.reader.secret_key)
        mp.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
        np.testing.assert_array_equal(shoal.load(path, read_only=True).x[5].numpy(), x[5])
    shoal.delete(path, creds=creds)
    assert not shoal.exists(path, creds=creds)
