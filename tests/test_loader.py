"""The data loader on local storage and on s3:// (SeaweedFS on loopback): every sample once
per epoch, shuffles repeatable for a seed, rank shares that never overlap, views, transforms,
errors that reach the caller, and a shutdown that leaves no thread or memory behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.errors import CorruptDataError, LoaderError, StorageError, TransformError
from shoal.storage._s3_options import S3Options
from tests.servers.faults import FaultProxy
from tests.servers.s3_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import S3Server

N = 1000
SHAPE = (8, 8, 3)


def _image(i: np.ndarray) -> np.ndarray:
    return np.broadcast_to((i % 251).astype(np.uint8)[:, None, None, None], (i.size, *SHAPE))


def _fill(ds: shoal.Dataset) -> None:
    # Small chunks: a thousand samples spread over dozens of chunks, so batches cross chunks.
    ds.create_tensor("images", htype="image", dtype="uint8", max_chunk_size=12_000)
    ds.create_tensor("ids", dtype="int64", max_chunk_size=4_000)
    ds.create_tensor("names", htype="text")
    idx = np.arange(N)
    with ds:
        ds.images.extend(np.ascontiguousarray(_image(idx)))
        ds.ids.extend(idx)
        ds.names.extend([f"s{i}" for i in range(N)])


@pytest.fixture(scope="module")
def local_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("loader") / "ds")
    _fill(shoal.empty(path))
    return path


@pytest.fixture(scope="module")
def s3_path(s3_server: S3Server) -> tuple[str, dict[str, str]]:
    path = f"s3://{s3_server.bucket}/loader-{uuid.uuid4().hex[:8]}"
    creds = s3_server.creds()
    _fill(shoal.empty(path, creds=creds))
    return path, creds


@pytest.fixture(params=["local", "s3"])
def ds(request: pytest.FixtureRequest) -> shoal.Dataset:
    if request.param == "local":
        return shoal.load(request.getfixturevalue("local_path"), read_only=True)
    path, creds = request.getfixturevalue("s3_path")
    return shoal.load(path, read_only=True, creds=creds)


def _ids(loader: Any) -> list[np.ndarray]:
    out = []
    for batch in loader:
        ids = batch["ids"].ravel()
        np.testing.assert_array_equal(batch["images"], _image(ids))
        out.append(ids)
    return out


def _loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("shoal-loader")]


def _no_loader_threads(timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while _loader_threads():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_once_per_epoch(ds: shoal.Dataset, shuffle: bool) -> None:
    loader = ds.loader(batch_size=64, shuffle=shuffle, seed=7)
    with loader:
        assert len(loader) == 16
        for _ in range(2):
            batches = _ids(loader)
            assert [b.size for b in batches] == [64] * 15 + [40]
            order = np.concatenate(batches)
            np.testing.assert_array_equal(np.sort(order), np.arange(N))
            if not shuffle:
                np.testing.assert_array_equal(order, np.arange(N))
            else:
                assert not np.array_equal(order, np.arange(N))
        assert loader.epoch == 2


def test_text_values_match_their_samples(local_path: str) -> None:
    ds = shoal.load(local_path, read_only=True)
    # Closed at the end: after an epoch the loader prefetches the next one, and its threads
    # would otherwise outlive this test and trip the thread checks of later ones.
    with ds.loader(batch_size=100, shuffle=True, seed=3, tensors=["ids", "names"]) as loader:
        for batch in loader:
            assert batch["names"] == [f"s{i}" for i in batch["ids"].ravel()]


def test_shuffle_is_repeatable_and_differs_per_epoch(ds: shoal.Dataset) -> None:
    a = ds.loader(batch_size=50, shuffle=True, seed=11, tensors=["ids", "images"])
    b = ds.loader(batch_size=50, shuffle=True, seed=11, tensors=["ids", "images"])
    with a, b:
        first_a, first_b = np.concatenate(_ids(a)), np.concatenate(_ids(b))
        np.testing.assert_array_equal(first_a, first_b)
        second_a = np.concatenate(_ids(a))
        assert not np.array_equal(first_a, second_a)
    with ds.loader(batch_size=50, shuffle=True, seed=12) as c:
        assert not np.array_equal(first_a, np.concatenate(_ids(c)))


def test_shuffle_keeps_chunks_together_within_the_buffer(local_path: str) -> None:
    ds = shoal.load(local_path, read_only=True)
    with ds.loader(batch_size=10, shuffle=True, seed=1, shuffle_buffer=100) as loader:
        order = np.concatenate(_ids(loader))
    # Each window of 100 samples draws on the few chunks of "images" it spans, not on
    # samples from everywhere.
    ends = ds._engine.tensor("images").chunk_ids[:, 1].astype(np.int64)
    assert len(ends) > 10
    rows = np.searchsorted(ends, order, side="left")
    spans = [np.unique(rows[i : i + 100]).size for i in range(0, N - 100, 100)]
    smallest = int(np.diff(ends).min())
    assert max(spans) <= 100 // smallest + 2 < len(ends) // 2


def test_ranks_split_each_epoch_without_overlap(
    ds: shoal.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    shares = []
    for rank in range(3):
        with ds.loader(batch_size=32, shuffle=True, seed=5, rank=rank, world_size=3) as loader:
            shares.append(np.concatenate(_ids(loader)))
    together = np.concatenate(shares)
    assert together.size == N
    np.testing.assert_array_equal(np.sort(together), np.arange(N))
    # Read from the environment as torch.distributed sets it.
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    with ds.loader(batch_size=32, shuffle=True, seed=5) as loader:
        np.testing.assert_array_equal(np.concatenate(_ids(loader)), shares[1])


def test_drop_last(local_path: str) -> None:
    ds = shoal.load(local_path, read_only=True)
    with ds.loader(batch_size=64, drop_last=True, shuffle=True, seed=2) as loader:
        assert len(loader) == 15
        sizes = [b.size for b in _ids(loader)]
    assert sizes == [64] * 15


def test_views(ds: shoal.Dataset) -> None:
    with ds[100:900].loader(batch_size=64, shuffle=True, seed=1) as loader:
        got = np.concatenate(_ids(loader))
    np.testing.assert_array_equal(np.sort(got), np.arange(100, 900))
    with ds[[5, 3, 999, 7]].loader(batch_size=3) as loader:
        assert [b.tolist() for b in _ids(loader)] == [[5, 3, 999], [7]]


def test_tensors_subset_and_transform(ds: shoal.Dataset) -> None:
    def double(sample: dict[str, Any]) -> dict[str, Any]:
        return {"id": int(sample["ids"][0]), "twice": sample["ids"] * 2}

    with ds.loader(batch_size=100, tensors=["ids"], transform=double) as loader:
        batches = list(loader)
    assert set(batches[0]) == {"id", "twice"}
    np.testing.assert_array_equal(batches[3]["id"], np.arange(300, 400))
    np.testing.assert_array_equal(batches[3]["twice"].ravel(), np.arange(300, 400) * 2)
    with ds.loader(batch_size=100, tensors="images") as loader:
        assert set(next(iter(loader))) == {"images"}


def test_a_transform_that_raises_names_the_sample_and_stops_the_loader(ds: shoal.Dataset) -> None:
    def bad(sample: dict[str, Any]) -> Any:
        if int(sample["ids"][0]) == 437:
            raise ZeroDivisionError("bad sample")
        return sample

    loader = ds.loader(batch_size=32, transform=bad, num_threads=2)
    with pytest.raises(TransformError, match="sample 437") as caught:
        for _ in loader:
            pass
    assert caught.value.index == 437
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert loader.prefetched_bytes == 0
    assert _no_loader_threads()


def test_a_chunk_deleted_mid_epoch_is_a_clear_error(local_path: str, tmp_path: Path) -> None:
    copy = tmp_path / "ds"
    shutil.copytree(local_path, copy)
    ds = shoal.load(str(copy), read_only=True)
    loader = ds.loader(batch_size=50, tensors=["images", "ids"], prefetch_bytes=20_000)
    chunks = sorted((copy / "images" / "chunks").iterdir())
    got = 0
    with pytest.raises(CorruptDataError, match="is missing"):
        for batch in loader:
            if got == 0:
                for chunk in chunks[len(chunks) // 2 :]:
                    chunk.unlink()  # not fetched yet: the memory bound holds a few chunks
            got += batch["ids"].size
    assert 0 < got < N
    assert loader.prefetched_bytes == 0
    assert _no_loader_threads()


def test_empty_dataset_unflushed_samples_and_a_dropped_loader(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int64")
    loader = ds.loader(batch_size=4)
    assert (list(loader), list(loader), len(loader)) == ([], [], 0)
    ds.x.extend(np.arange(10))
    with ds:
        ds.x.extend(np.arange(10, 15))  # not flushed: read through the engine
        got = [b["x"].ravel().tolist() for b in ds.loader(batch_size=4)]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14]]
    assert _no_loader_threads()  # each loader above was dropped after a full epoch


def test_breaking_early_releases_memory_and_threads(ds: shoal.Dataset) -> None:
    loader = ds.loader(batch_size=16, prefetch_bytes=64 * 2**20)
    for i, _ in enumerate(loader):
        if i == 1:
            assert loader.prefetched_bytes > 0
            break
    assert loader.prefetched_bytes == 0
    assert _no_loader_threads()
    # The next loop starts the next epoch afresh.
    assert sum(b.size for b in _ids(loader)) == N
    loader.close()
    assert _no_loader_threads()


def test_an_iteration_left_suspended_until_exit_does_not_hang_the_exit(local_path: str) -> None:
    # The iterator is finalized while the interpreter shuts down, after the background loop's
    # thread has gone: waiting for that loop to release the pipeline would wait forever.
    script = (
        "import shoal\n"
        f"ds = shoal.load({local_path!r}, read_only=True)\n"
        "batches = iter(ds.loader(batch_size=16))\n"
        "next(batches)\n"
        "next(batches)\n"
        "print('two batches')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(shoal.__file__).parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "two batches" in proc.stdout


def test_prefetch_carries_over_the_end_of_an_epoch(ds: shoal.Dataset) -> None:
    with ds.loader(batch_size=250, tensors=["ids"]) as loader:
        _ids_only = [b["ids"] for b in loader]
        assert len(_ids_only) == 4
        deadline = time.monotonic() + 5
        while loader.prefetched_bytes == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert loader.prefetched_bytes > 0  # the next epoch is on its way already
        assert sum(b["ids"].size for b in loader) == N
    assert loader.prefetched_bytes == 0


def test_memory_stays_within_prefetch_bytes(s3_path: tuple[str, dict[str, str]]) -> None:
    path, creds = s3_path
    ds = shoal.load(path, read_only=True, creds=creds)
    budget = 60_000  # a few chunks of "images" and a few batches
    loader = ds.loader(batch_size=16, tensors=["images", "ids"], prefetch_bytes=budget)
    with loader:
        assert sum(b.size for b in _ids(loader)) == N
        pipeline = loader._a._pipeline
        assert pipeline is not None
        assert pipeline.peak_used <= budget * 1.2  # estimates become sizes once fetched


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_chunk_is_fetched_once_and_dropped_once_no_batch_to_come_needs_it(
    local_path: str, monkeypatch: pytest.MonkeyPatch, shuffle: bool
) -> None:
    from shoal.loader.reader import TensorReader

    fetched: list[str] = []  # fetches start in the order they were asked for (FIFO slots)
    fetch = TensorReader.fetch

    async def counted(self: TensorReader, key: str) -> Any:
        fetched.append(key)
        return await fetch(self, key)

    monkeypatch.setattr(TensorReader, "fetch", counted)
    ds = shoal.load(local_path, read_only=True)
    # The budget holds the whole dataset: no chunk is evicted to make room.
    loader = ds.loader(
        batch_size=4, tensors=["images", "ids"], shuffle=shuffle, seed=3, shuffle_buffer=100
    )
    with loader:
        seen = 0
        for i, batch in enumerate(loader):
            seen += batch["ids"].size
            if i == 120 and not shuffle:
                pipeline = loader._a._pipeline
                assert pipeline is not None
                held = [k for k in pipeline._held if k.startswith("images/")]
                # The 64 batches admitted ahead of the consumer read 256 samples, about 9
                # chunks of 31; the 15 chunks before them are not held any more.
                assert len(held) <= 12, held
        assert seen == N
    # The epoch's fetches, up to the next epoch's first (its prefetch starts before the end).
    repeat = next((i for i, k in enumerate(fetched) if k in fetched[:i]), len(fetched))
    first = fetched[:repeat]
    images = loader._a._readers[0]
    assert images.name == "images"
    assert len([k for k in first if k.startswith("images/")]) == len(images.t.chunk_ids)


def test_failing_gets_are_retried_or_a_clear_error(
    s3_path: tuple[str, dict[str, str]],
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, creds = s3_path
    monkeypatch.setenv("SHOAL_S3_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("SHOAL_S3_MAX_ATTEMPTS", "4")
    proxied = {**creds, "endpoint_url": fault_proxy.url}
    ds = shoal.load(path, read_only=True, creds=proxied)
    for kind in ("slowdown", "reset", "truncate"):
        fault_proxy.inject(kind, times=2, method="GET", contains="/chunks/")
    with ds.loader(batch_size=64, shuffle=True, seed=9) as loader:
        assert np.sort(np.concatenate(_ids(loader))).tolist() == list(range(N))  # not short
    assert sum(fault_proxy.injected.values()) == 6
    # More failures in a row than attempts: an error naming the object, never a hang.
    fault_proxy.inject("slowdown", times=50, method="GET", contains="/chunks/")
    loader = ds.loader(batch_size=64)
    with pytest.raises(StorageError, match="/chunks/"):
        list(loader)
    assert loader.prefetched_bytes == 0
    assert _no_loader_threads()


def test_five_percent_of_gets_failing_at_random_still_give_whole_epochs(
    s3_path: tuple[str, dict[str, str]],
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, creds = s3_path
    monkeypatch.setenv("SHOAL_S3_BACKOFF_BASE", "0.01")
    ds = shoal.load(path, read_only=True, creds={**creds, "endpoint_url": fault_proxy.url})
    fault_proxy.fail_randomly(0.05, kinds=("slowdown", "reset", "truncate"), seed=3)
    with ds.loader(batch_size=32, shuffle=True, seed=1, prefetch_bytes=40_000) as loader:
        for _ in range(2):  # a small bound: chunks are fetched again in the second epoch
            assert np.sort(np.concatenate(_ids(loader))).tolist() == list(range(N))
    assert sum(fault_proxy.injected.values()) > 0
    assert _no_loader_threads()


def test_a_chunk_deleted_from_s3_mid_epoch_is_a_clear_error(s3_server: S3Server) -> None:
    prefix = f"loader-deleted-{uuid.uuid4().hex[:8]}"
    creds = s3_server.creds()
    _fill(shoal.empty(f"s3://{s3_server.bucket}/{prefix}", creds=creds))
    ds = shoal.load(f"s3://{s3_server.bucket}/{prefix}", read_only=True, creds=creds)
    client = s3_server.client()
    listed = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/images/chunks/")
    chunks = sorted(o["Key"] for o in listed["Contents"])
    loader = ds.loader(batch_size=50, tensors=["images", "ids"], prefetch_bytes=20_000)
    got = 0
    with pytest.raises(CorruptDataError, match="is missing"):
        for batch in loader:
            if got == 0:
                for key in chunks[len(chunks) // 2 :]:
                    client.delete_object(Bucket=s3_server.bucket, Key=key)
            got += batch["ids"].size
    assert 0 < got < N  # never a silently short epoch
    assert loader.prefetched_bytes == 0
    assert _no_loader_threads()


def _connections_to(port: int) -> int:
    """This process's established TCP connections to ``port`` on loopback (Linux /proc)."""
    mine = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                mine.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                remote, state, inode = fields[2], fields[3], fields[9]
                if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port and inode in mine:
                    count += 1
    return count


def test_breaking_early_leaves_no_request_running_and_no_connection_leaking(
    s3_path: tuple[str, dict[str, str]], fault_proxy: FaultProxy
) -> None:
    path, creds = s3_path
    ds = shoal.load(path, read_only=True, creds={**creds, "endpoint_url": fault_proxy.url})
    port = int(fault_proxy.url.rsplit(":", 1)[1].rstrip("/"))
    for _ in range(4):
        # Chunk GETs held back by the proxy: the break comes while they are in flight.
        fault_proxy.inject("lag", times=6, method="GET", contains="/chunks/", delay=0.3)
        loader = ds.loader(batch_size=16, prefetch_bytes=64 * 2**20)
        for _batch in loader:
            break
        assert loader.prefetched_bytes == 0
        assert _no_loader_threads()
    deadline = time.monotonic() + 5
    while fault_proxy.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fault_proxy.in_flight == 0
    # Open connections stay pooled for the next reads, within the provider's bound.
    assert _connections_to(port) <= S3Options().concurrency


def test_async_for(s3_path: tuple[str, dict[str, str]]) -> None:
    path, creds = s3_path

    async def main() -> list[int]:
        ds = await shoal.load_async(path, read_only=True, creds=creds)
        got: list[int] = []
        async with ds[10:].loader(batch_size=100, shuffle=True, seed=4) as loader:
            async for batch in loader:
                np.testing.assert_array_equal(batch["images"], _image(batch["ids"].ravel()))
                got.extend(batch["ids"].ravel().tolist())
        return got

    assert sorted(asyncio.run(main())) == list(range(10, N))


def test_progress_bar(
    local_path: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = shoal.load(local_path, read_only=True)
    with ds.loader(batch_size=100, tensors=["ids"], progress=True) as loader:
        assert sum(b["ids"].size for b in loader) == N
    assert "10/10" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # tqdm not installed: no bar, no error
    with ds.loader(batch_size=100, tensors=["ids"], progress=True) as loader:
        assert sum(b["ids"].size for b in loader) == N
    assert "10/10" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"batch_size": 4, "rank": 3, "world_size": 3}, r"rank must be in \[0, world_size\)"),
        ({"batch_size": 4, "tensors": ["nope"]}, r"unknown tensor\(s\) \['nope'\]"),
        ({"batch_size": 4, "shuffle": True, "world_size": 2}, "needs seed="),
        ({"batch_size": 4, "prefetch_bytes": 0}, "prefetch_bytes must be"),
        ({"batch_size": 4, "transform": 3}, "transform must be callable"),
    ],
)
def test_bad_arguments(local_path: str, kwargs: dict[str, Any], message: str) -> None:
    ds = shoal.load(local_path, read_only=True)
    with pytest.raises(LoaderError, match=message):
        ds.loader(**kwargs)


def test_pytorch_without_torch_says_what_to_install(
    local_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hide torch rather than skip where it is installed: the message must be checked everywhere.
    monkeypatch.setitem(sys.modules, "torch", None)
    ds = shoal.load(local_path, read_only=True)
    with pytest.raises(shoal.errors.ShoalError, match="pip install torch"):
        ds.pytorch(batch_size=8)
