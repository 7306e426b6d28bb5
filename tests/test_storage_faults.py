"""Ingest and reads end to end through a store that fails 5% of requests at random (503
SlowDown, a connection dropped before the answer, a body cut off half way): a loopback proxy
in front of SeaweedFS. Every sample written is read back once and equal: nothing lost,
nothing duplicated."""

from __future__ import annotations

import uuid

import numpy as np

import shoal
from tests.servers.faults import FaultProxy
from tests.servers.s3_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import S3Server

BLOCKS, BLOCK = 12, 100


def image(i: int) -> np.ndarray:
    return np.full((16, 16, 3), i % 251, dtype=np.uint8) + np.arange(3, dtype=np.uint8)


def test_ingest_and_read_through_5_percent_faults(
    s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    url = f"s3://{s3_server.bucket}/faults-{uuid.uuid4().hex[:8]}"
    creds = s3_server.creds(endpoint_url=fault_proxy.url)
    fault_proxy.fail_randomly(0.05, ("slowdown", "reset", "truncate"), seed=7)
    ds = shoal.empty(url, creds=creds)
    ds.create_tensor("x", dtype="int64", max_chunk_size=4096)
    ds.create_tensor("images", dtype="uint8", sample_compression="png", max_chunk_size=16384)
    for b in range(BLOCKS):  # one flush per block: many small objects, each a chance to fail
        with ds:
            start = b * BLOCK
            ds.x.extend(np.arange(start, start + BLOCK, dtype=np.int64))
            ds.images.extend([image(i) for i in range(start, start + BLOCK)])
    n = BLOCKS * BLOCK
    for reopened in (shoal.load(url, creds=creds, read_only=True), shoal.load(url, creds=creds)):
        assert len(reopened) == n and len(reopened.x) == n and len(reopened.images) == n
        assert reopened.x.numpy().ravel().tolist() == list(range(n))
        images = reopened.images.numpy()
        assert all(np.array_equal(images[i], image(i)) for i in range(n))
        assert np.array_equal(reopened.images[n // 2].numpy(), image(n // 2))
    # the proxy did fail its share: the retries were exercised, not skipped
    failed = sum(fault_proxy.injected.values())
    assert failed >= 0.02 * fault_proxy.requests and fault_proxy.requests > 200, (
        failed,
        fault_proxy.requests,
        dict(fault_proxy.injected),
    )
    print(f"{fault_proxy.requests} requests, {failed} failed: {dict(fault_proxy.injected)}")
