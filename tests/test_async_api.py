"""The async object model never blocks its caller's event loop.

Every request of a slow stand-in store records the loop it runs on: a request made through
the sync façade runs on shoal's background loop while the caller's loop waits, so any such
request is a blocking call, however fast the store. The loop also runs in asyncio debug mode,
where a callback or task step slower than a threshold is logged and fails the test: that
catches sync file I/O or heavy CPU work on the loop. The threshold leaves room for a loaded
two-core machine; blocking storage requests are caught by the first check, not by timing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import warnings

import numpy as np
import pytest

import shoal
from shoal import routing
from shoal.storage import MemoryStorage, Storage

LATENCY = 0.2  # per request
SLOW_STEP = 0.5  # a step of the caller's loop longer than this fails the test


class SlowStore(MemoryStorage):
    """mem:// with a round-trip cost, noting the loop every request runs on."""

    remote = True
    loops: list[asyncio.AbstractEventLoop] = []  # noqa: RUF012 - shared by every instance

    async def _wait(self) -> None:
        SlowStore.loops.append(asyncio.get_running_loop())
        await asyncio.sleep(LATENCY)

    async def get(self, key: str) -> bytes:
        await self._wait()
        return await super().get(key)

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        await self._wait()
        return await super().get_range(key, start, end)

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        await self._wait()
        await super().put(key, data)


@pytest.fixture
def slow_path() -> str:
    async def factory(location: str, *, read_only: bool = False, **_: object) -> Storage:
        return SlowStore(location, read_only=read_only)

    routing.register("slowmem", factory)
    SlowStore.loops.clear()
    return f"slowmem://ds-{uuid.uuid4().hex}"


class SlowSteps(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "took" in record.getMessage():
            self.records.append(record.getMessage())


@pytest.fixture
async def strict_loop():  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_STEP
    handler = SlowSteps()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        loop.set_debug(False)


async def _walk_the_api(path: str) -> None:
    ds = await shoal.empty_async(path)
    images = await ds.create_tensor_async("images", htype="image", sample_compression="png")
    await ds.create_tensor_async("labels", htype="class_label", class_names=["cat", "dog"])
    await ds.create_tensor_async("caption", htype="text")
    await ds.create_tensor_async("meta", htype="json")
    pics = np.random.default_rng(0).integers(0, 255, (6, 8, 8, 3), dtype=np.uint8)
    await images.extend_async(pics)
    async with ds:
        await ds.labels.extend_async(["cat", "dog", "dog", "cat", "dog", "cat"])
        await ds.caption.extend_async([f"pic {i}" for i in range(6)])
        await ds["meta"].extend_async([{"i": i} for i in range(6)])
        # a read inside the batch sees the batch's samples without publishing them
        assert await ds.caption[5].text_async() == "pic 5"
    ds.info["source"] = "test"
    await ds.flush_async()

    ds = await shoal.load_async(path)
    # attribute access, len and views: no I/O at all
    assert len(ds) == 6 and sorted(ds.tensors) == ["caption", "images", "labels", "meta"]
    assert ds.images.shape == (6, 8, 8, 3) and ds["labels"].htype == "class_label"
    assert ds.labels.info.class_names == ["cat", "dog"] and ds.info["source"] == "test"
    view = ds[1:4]
    assert len(view) == 3 and len(view.images) == 3 and ds[2].images.shape == (8, 8, 3)
    # reads are awaited
    np.testing.assert_array_equal(await view.images.numpy_async(), pics[1:4])
    assert (await ds.labels[1].data_async())["text"] == ["dog"]
    assert await ds.caption[0:2].text_async() == ["pic 0", "pic 1"]
    assert await ds.meta[3].dict_async() == {"i": 3}
    assert await ds.images[0].shape_async() == (8, 8, 3)
    with pytest.raises(AttributeError, match="numpy_async"):
        ds.images.numpy()  # type: ignore[operator]
    assert await shoal.exists_async(path)
    ro = await shoal.load_async(path, read_only=True)
    assert ro.read_only and len(ro.caption) == 6


async def test_the_async_api_never_blocks_the_callers_loop(
    slow_path: str, strict_loop: SlowSteps
) -> None:
    await _walk_the_api(slow_path)
    caller = asyncio.get_running_loop()
    assert SlowStore.loops, "the stand-in store saw no requests"
    foreign = sum(1 for loop in SlowStore.loops if loop is not caller)
    assert foreign == 0, f"{foreign} requests ran off the caller's loop: a blocking sync path"
    assert strict_loop.records == [], strict_loop.records


async def test_attribute_access_after_an_awaited_open_costs_nothing(slow_path: str) -> None:
    ds = await shoal.empty_async(slow_path)
    async with ds:
        for i in range(20):
            t = await ds.create_tensor_async(f"t{i}", dtype="int32")
            await t.extend_async(np.arange(3, dtype=np.int32))
    ds = await shoal.load_async(slow_path)
    SlowStore.loops.clear()
    stalls: list[float] = []

    async def heartbeat() -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            stalls.append(time.perf_counter() - t0 - 0.01)

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.05)
    for i in range(20):
        t = ds[f"t{i}"]
        assert len(t) == 3 and t.info == {} and t.dtype == np.int32
    assert len(ds) == 3 and len(ds[1]) == 1
    await asyncio.sleep(0.05)
    beat.cancel()
    assert SlowStore.loops == []  # not one request
    assert max(stalls) < LATENCY / 2


async def test_a_sync_call_inside_a_running_loop_warns_and_names_its_twin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ds")
    with pytest.warns(shoal.errors.BlockingCallWarning, match="empty_async"):
        ds = shoal.empty(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", shoal.errors.BlockingCallWarning)
        ds.create_tensor("x", dtype="int64")
    with pytest.warns(shoal.errors.BlockingCallWarning, match="numpy_async"):
        ds.x.numpy()


def test_a_with_block_that_raises_publishes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ds")
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(3))
    with pytest.raises(RuntimeError, match="stop"), ds:
        ds.x.extend(np.arange(3, 10))
        assert ds.x.numpy().ravel().tolist() == list(range(10))  # the batch reads its writes
        assert len(shoal.load(path).x) == 3  # others do not see them
        raise RuntimeError("stop")
    assert ds.x.numpy().ravel().tolist() == [0, 1, 2]
    assert shoal.load(path).x.numpy().ravel().tolist() == [0, 1, 2]
    ds.x.append(np.int64(3))  # the handle goes on from the last flush
    assert shoal.load(path).x.numpy().ravel().tolist() == [0, 1, 2, 3]


async def test_an_async_with_block_that_raises_publishes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ds")
    ds = await shoal.empty_async(path)
    x = await ds.create_tensor_async("x", dtype="int64")
    await x.extend_async(np.arange(3))
    with pytest.raises(KeyError):
        async with ds:
            await x.extend_async(np.arange(3, 6))
            raise KeyError("stop")
    assert len(ds.x) == 3
    assert len((await shoal.load_async(path)).x) == 3
