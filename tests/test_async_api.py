"""The async object model never blocks its caller's event loop.

Every request of a slow stand-in store records the loop it runs on: a request made through
the sync façade runs on shoal's background loop while the caller's loop waits, so any such
request is a blocking call, however fast the store. A file opened on the loop's thread fails
the test too, however fast the disk. And every step of the caller's loop is timed: a callback
or task step that computes (thread CPU time) for longer than SLOW_STEP, or holds the loop for
longer than STALL whatever it does, fails the test: that catches heavy CPU work and blocking
waits. The tight limit is on CPU time, not wall time, because on a loaded two-core machine (the
suite runs on two workers) a step of 0.07 s was seen to take 0.6 s of wall time, preempted;
blocking storage requests are caught by the first check, not by timing.

The loop is not put in asyncio's debug mode: that mode captures and formats a stack for every
task and timer it creates, on the loop, which is CPU the library does not spend (a step that
starts fifty requests was seen to spend 0.5 s on it on a cold machine). The heap that exists
before the test is frozen for the same reason: a full collection of a long-running worker's
objects is not the library's work.
"""

from __future__ import annotations

import asyncio
import builtins
import gc
import io
import threading
import time
import traceback
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal import _native, routing
from shoal.engine import lock as locks
from shoal.storage import MemoryStorage, Storage

LATENCY = 0.2  # per request
SLOW_STEP = 0.5  # CPU seconds: a step of the caller's loop computing longer fails the test
STALL = 3.0  # wall seconds: a step holding the caller's loop longer fails the test


class SlowStore(MemoryStorage):
    """mem:// with a round-trip cost, noting the loop every request runs on."""

    remote = True
    loops: list[asyncio.AbstractEventLoop] = []  # noqa: RUF012 - shared by every instance
    latency = LATENCY

    async def _wait(self) -> None:
        SlowStore.loops.append(asyncio.get_running_loop())
        await asyncio.sleep(SlowStore.latency)

    async def get(self, key: str) -> bytes:
        await self._wait()
        return await super().get(key)

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        await self._wait()
        return await super().get_range(key, start, end)

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        await self._wait()
        await super().put(key, data)

    async def exists(self, key: str) -> bool:
        await self._wait()
        return await super().exists(key)

    async def list(self, prefix: str = "") -> list[str]:
        await self._wait()
        return await super().list(prefix)

    async def delete(self, key: str) -> None:
        await self._wait()
        await super().delete(key)

    async def delete_prefix(self, prefix: str = "") -> None:
        await self._wait()
        await super().delete_prefix(prefix)


@pytest.fixture
def slow_path() -> str:
    async def factory(location: str, *, read_only: bool = False, **_: object) -> Storage:
        return SlowStore(location, read_only=read_only)

    routing.register("slowmem", factory)
    SlowStore.loops.clear()
    SlowStore.latency = LATENCY
    return f"slowmem://ds-{uuid.uuid4().hex}"


class SlowSteps:
    """Steps of the loop that computed or held the loop too long, and files opened on the
    loop's thread (a file read there blocks the loop however fast the disk is: it belongs on
    a thread)."""

    def __init__(self) -> None:
        self.records: list[str] = []
        self.loop_thread = threading.current_thread()

    def opening(self, real_open: Any) -> Any:
        def watched_open(file: Any, *args: Any, **kwargs: Any) -> Any:
            stack = traceback.extract_stack()[:-1]
            importing = any(f.filename.startswith("<frozen importlib") for f in stack)
            if threading.current_thread() is self.loop_thread and not importing:
                where = " <- ".join(f"{f.filename}:{f.lineno}" for f in reversed(stack[-6:]))
                self.records.append(f"open({file!r}) on the loop at {where}")
            return real_open(file, *args, **kwargs)

        return watched_open

    def timing(self, real_run: Any) -> Any:
        def timed_run(handle: asyncio.Handle) -> None:
            if threading.current_thread() is not self.loop_thread:
                return real_run(handle)  # shoal's own loop (sync façade) runs its steps too
            start, wall = time.thread_time(), time.perf_counter()
            try:
                return real_run(handle)
            finally:
                spent = time.thread_time() - start
                held = time.perf_counter() - wall
                if spent > SLOW_STEP:
                    self.records.append(f"{handle!r} computed for {spent:.3f} s on the loop")
                elif held > STALL:
                    self.records.append(f"{handle!r} held the loop for {held:.3f} s")

        return timed_run


@pytest.fixture
def strict_loop(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    handler = SlowSteps()
    watched = handler.opening(builtins.open)
    monkeypatch.setattr(builtins, "open", watched)
    monkeypatch.setattr(io, "open", watched)
    monkeypatch.setattr(asyncio.Handle, "_run", handler.timing(asyncio.Handle._run))
    gc.collect()
    gc.freeze()
    try:
        yield handler
    finally:
        gc.unfreeze()


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


async def _walk_edits_versions_and_links(path: str, files: Path) -> None:
    ds = await shoal.empty_async(path)
    x = await ds.create_tensor_async("x", dtype="int64")
    await ds.create_tensor_async("y", htype="text")
    await ds.extend_async({"x": np.arange(6), "y": [f"s{i}" for i in range(6)]})
    await ds.append_async({"x": np.int64(6), "y": "s6"})
    # editing: updates of a tensor and of a row, pops, the tensor list
    await ds.x[1].update_async(np.int64(10))
    await ds[2].update_async({"x": np.int64(20), "y": "two"})
    await x.pop_async(0)
    await ds.y.pop_async(0)
    await ds.pop_async()
    assert (await ds.x.numpy_async()).ravel().tolist() == [10, 20, 3, 4, 5]
    assert await ds.y[1].text_async() == "two"
    await ds.rechunk_async("x")

    async def big(row: shoal.AsyncDataset) -> bool:
        return bool((await row.x.numpy_async()).item() > 4)

    assert len(await ds.filter_async(big)) == 3
    group = await ds.create_group_async("g")
    await group.create_tensor_async("z", dtype="uint8")
    await ds.create_tensor_async("tmp", dtype="int8")
    renamed = await ds.rename_tensor_async("tmp", "tmp2")
    assert renamed.name == "tmp2"
    await ds.delete_tensor_async("tmp2")

    # version control
    first = await ds.commit_async("first")
    assert not await ds.has_head_changes_async()
    assert await ds.checkout_async("dev", create=True) == first
    await ds.x.append_async(np.int64(99))
    assert await ds.has_head_changes_async()
    dev = await ds.commit_async("on dev")
    await ds.checkout_async("main")
    await ds.y.append_async("main only")
    await ds.reset_async()  # drops the uncommitted append
    assert len(ds.y) == 5
    await ds.merge_async("dev")
    assert (await ds.x.numpy_async()).ravel().tolist()[-1] == 99
    changes = await ds.diff_async(first, dev, as_dict=True)
    assert changes is not None
    assert "Message: first" in await ds.log_async()
    await ds.checkout_async("scratch", create=True)
    await ds.checkout_async("main")
    await ds.delete_branch_async("scratch")
    await ds.checkout_async(first)  # a past commit: read-only
    assert len(ds.x) == 5 and (await ds.x[0].numpy_async()).item() == 10
    await ds.checkout_async("main")

    # creds keys and a link tensor (local files: no server needed)
    await ds.add_creds_key_async("k")
    await ds.populate_creds_async("k", from_environment=True)
    await ds.update_creds_key_async("k", "k2")
    assert await ds.get_creds_keys_async() == ["k2"]
    assert await ds.get_managed_creds_keys_async() == []
    pics = await ds.create_tensor_async("pics", htype="link[image]", sample_compression="png")
    names = [str(files / f"p{i}.png") for i in range(3)]
    for i, name in enumerate(names):  # written from a thread, as async code does
        png = _native.png_encode(np.full((4, 5, 3), i, dtype=np.uint8))
        await asyncio.to_thread(Path(name).write_bytes, png)
    await pics.extend_async([shoal.link(n) for n in names[:2]])
    await pics.append_async(shoal.link(names[2], creds_key="k2"))
    # image files given by path are read off the loop too
    photos = await ds.create_tensor_async("photos", htype="image", sample_compression="png")
    await photos.extend_async([Path(names[0]), Path(names[1])])
    await ds.append_async({"photos": Path(names[2])}, skip_ok=True)
    await ds.photos[0].update_async(Path(names[2]))
    got = await ds.photos.numpy_async(aslist=True)
    assert [int(a[0, 0, 0]) for a in got] == [2, 1, 2]
    await ds.flush_async()
    await ds.close_async()

    ds = await shoal.load_async(path)
    assert await ds.pics[0:2].path_async() == names[:2]
    assert await ds.pics[2].creds_key_async() == "k2"
    await ds.populate_creds_async("k2", from_environment=True)
    got = await ds.pics.numpy_async(aslist=True)
    assert [int(a[0, 0, 0]) for a in got] == [0, 1, 2]
    await ds.close_async()


async def test_editing_versions_and_links_never_block_the_callers_loop(
    slow_path: str, strict_loop: SlowSteps, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    SlowStore.latency = 0.005  # many more requests than the walk above: cheaper ones
    await _walk_edits_versions_and_links(slow_path, tmp_path)
    caller = asyncio.get_running_loop()
    assert len(SlowStore.loops) > 50, "the stand-in store saw few requests"
    foreign = sum(1 for loop in SlowStore.loops if loop is not caller)
    assert foreign == 0, f"{foreign} requests ran off the caller's loop: a blocking sync path"
    assert strict_loop.records == [], strict_loop.records
    assert "Deep Lake Version Log" in capsys.readouterr().out


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


async def test_a_dataset_dropped_in_a_running_loop_releases_its_lock_without_stalling_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ds"
    ds = await shoal.empty_async(str(path))
    x = await ds.create_tensor_async("x", dtype="int64")
    await x.extend_async(np.arange(3))
    lock_file = path / "dataset_lock.lock"
    assert lock_file.is_file()
    real_release = locks.WriteLock.release

    async def slow_release(self: locks.WriteLock) -> None:  # a store a second away
        await asyncio.sleep(1.0)
        await real_release(self)

    monkeypatch.setattr(locks.WriteLock, "release", slow_release)
    start = time.perf_counter()
    del ds, x
    assert time.perf_counter() - start < 0.5, "dropping the dataset waited for its release"
    deadline = time.monotonic() + 10
    while lock_file.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not lock_file.exists(), "the dropped dataset's lock was not released"


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
