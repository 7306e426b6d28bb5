"""Linked files are decoded on the CPU pool as they arrive (links/decode_queue.py): the arrays
are exactly the one-at-a-time decodes, and a sample that fails, while others are still being
fetched or decoded, is named, after the rest are done, with nothing left running."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _native
from shoal.errors import LinkError
from shoal.links.decode_queue import DecodeQueue


def _jpegs(root: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        arr = rng.integers(0, 256, (48 + i % 5, 64, 3), dtype=np.uint8)
        p = root / f"{i:03d}.jpg"
        p.write_bytes(_native.jpeg_encode(arr, 90))
        out.append(p)
    return out


def _dataset(root: Path, files: list[Path]) -> shoal.Dataset:
    ds = shoal.empty(str(root / "ds"))
    ds.create_tensor("im", htype="link[image]", sample_compression="jpeg", verify=False)
    ds.im.extend([shoal.link(str(f)) for f in files])
    return ds


def test_parallel_decodes_are_the_one_at_a_time_decodes(tmp_path: Path) -> None:
    files = _jpegs(tmp_path, 96)
    ds = _dataset(tmp_path, files)
    ds.im.append(None)
    got = shoal.load(str(tmp_path / "ds")).im.numpy(aslist=True)
    assert len(got) == len(files) + 1
    for f, a in zip(files, got, strict=False):
        np.testing.assert_array_equal(a, _native.jpeg_decode(f.read_bytes()))
    assert got[-1].size == 0
    # a slice in another order reads the same pixels
    idx = [50, 3, 95, 3]
    again = shoal.load(str(tmp_path / "ds")).im[idx].numpy(aslist=True)
    for i, a in zip(idx, again, strict=True):
        np.testing.assert_array_equal(a, got[i])


def test_a_failing_sample_among_many_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    files = _jpegs(tmp_path, 64)
    files[40].write_bytes(b"\xff\xd8 not really a jpeg")  # fetched fine, fails to decode
    files[57].unlink()  # fails to fetch, later in order
    ds = _dataset(tmp_path, files)
    with pytest.raises(LinkError, match=r"sample 40\b.*040\.jpg") as caught:
        ds.im.numpy(aslist=True)
    assert caught.value.index == 40
    with pytest.raises(LinkError, match=r"sample 57\b"):
        ds.im[41:].numpy(aslist=True)
    # nothing half-done: the dataset is as it was, and the pool is free for the next read
    assert len(ds.im) == 64
    got = ds.im[:40].numpy(aslist=True)
    for f, a in zip(files[:40], got, strict=True):
        np.testing.assert_array_equal(a, _native.jpeg_decode(f.read_bytes()))


def test_decode_queue_runs_on_at_most_its_workers_and_reports_each_item() -> None:
    pool = concurrent.futures.ThreadPoolExecutor(4)
    running, peak, lock = 0, 0, threading.Lock()

    def work(x: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.002)
        with lock:
            running -= 1
        if x == 7:
            raise ValueError("seven")
        return x * x

    async def go() -> list[object]:
        queue = DecodeQueue(pool, work, 20, workers=2)
        for i in range(20):
            queue.submit(i, i)
            if i % 5 == 0:
                await asyncio.sleep(0.001)  # items arrive over time, as fetches finish
        return await queue.results()

    try:
        out = asyncio.run(go())
    finally:
        pool.shutdown()
    assert peak <= 2
    assert isinstance(out[7], ValueError)
    assert [o for i, o in enumerate(out) if i != 7] == [i * i for i in range(20) if i != 7]


def test_a_cancelled_read_drops_what_is_not_decoded_yet() -> None:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    started: list[int] = []

    def work(x: int) -> int:
        started.append(x)
        time.sleep(0.05)
        return x

    async def go() -> None:
        queue = DecodeQueue(pool, work, 50, workers=1)
        for i in range(50):
            queue.submit(i, i)
        task = asyncio.ensure_future(queue.results())
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(go())
    finally:
        pool.shutdown(wait=True)
    assert len(started) <= 2  # the one in hand (and at most one more), not all fifty
