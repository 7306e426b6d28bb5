"""shoal.compute's writing: input order whatever the threads do, batches of bounded size,
all or nothing across every batch of a run (on storage too), checkpoints."""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal
from shoal import _compute_write, errors


def _out(tmp_path: Path) -> shoal.Dataset:
    ds = shoal.empty(str(tmp_path / uuid.uuid4().hex[:8]))
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("blob", dtype="uint8", max_chunk_size=64 * 1024)
    return ds


@shoal.compute
def blobs(sample_in: int, samples_out: Any, size: int, fail_at: int = -1) -> None:
    if sample_in == fail_at:
        raise RuntimeError(f"item {sample_in} fails")
    samples_out.x.append(sample_in)
    samples_out.blob.append(np.full((size,), sample_in % 251, np.uint8))


def _files(path: str) -> dict[str, bytes]:
    root = Path(path)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_threads_run_the_function_and_the_output_keeps_input_order(tmp_path: Path) -> None:
    threads: set[str] = set()
    rng = random.Random(5)
    delays = [rng.random() * 0.01 for _ in range(60)]

    @shoal.compute
    def slow(sample_in: int, samples_out: Any) -> None:
        threads.add(threading.current_thread().name)
        time.sleep(delays[sample_in])  # later items often finish first
        samples_out.x.append(sample_in)
        samples_out.blob.append(np.zeros(3, np.uint8))

    ds = _out(tmp_path)
    slow().eval(list(range(60)), ds, num_workers=4, progressbar=False)
    assert ds.x.numpy().ravel().tolist() == list(range(60))
    assert len([t for t in threads if t.startswith("shoal-compute")]) > 1
    slow().eval(list(range(60)), ds, num_workers=2, scheduler="processed", progressbar=False)
    assert ds.x.numpy().ravel().tolist() == list(range(60)) * 2


def test_batches_are_bounded_and_staging_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = _out(tmp_path)
    engine = ds._engine
    sizes: list[int] = []
    staged: list[int] = []
    real = _compute_write.editing.extend_columns

    async def spy(ds_engine: Any, columns: dict[str, Any]) -> None:
        sizes.append(sum(np.asarray(v).nbytes for vs in columns.values() for v in vs))
        staged.append(max(t.staged_bytes for t in engine.tensors.values()))
        await real(ds_engine, columns)

    monkeypatch.setattr(_compute_write.editing, "extend_columns", spy)
    size = 16 * 1024
    n = 300  # ~4.7 MB of outputs, batches of at most 1/4 MB
    blobs(size).eval(list(range(n)), ds, progressbar=False, cache_size=0.25)
    assert len(sizes) >= 15
    assert max(sizes) <= 2**18 + size + 64
    assert max(staged) <= engine.drain_bytes + 2**18 + 2 * size
    again = shoal.load(ds.path)
    assert again.x.numpy().ravel().tolist() == list(range(n))
    assert [int(b[0]) for b in again.blob.numpy(aslist=True)] == [i % 251 for i in range(n)]


def test_a_failure_after_many_batches_leaves_storage_as_it_was(tmp_path: Path) -> None:
    ds = _out(tmp_path)
    blobs(1024).eval([0, 1], ds, progressbar=False)
    before = _files(ds.path)
    with pytest.raises(errors.TransformError) as caught:
        blobs(16 * 1024, fail_at=250).eval(
            list(range(300)), ds, num_workers=3, progressbar=False, cache_size=0.1
        )
    assert caught.value.index == 250
    assert _files(ds.path) == before  # the chunks written early were removed
    assert ds.x.numpy().ravel().tolist() == [0, 1]
    assert shoal.load(ds.path).x.numpy().ravel().tolist() == [0, 1]


def test_a_bad_value_in_a_late_batch_changes_nothing(tmp_path: Path) -> None:
    @shoal.compute
    def late_bad(sample_in: int, samples_out: Any) -> None:
        samples_out.x.append("oops" if sample_in == 180 else sample_in)
        samples_out.blob.append(np.zeros(4096, np.uint8))

    ds = _out(tmp_path)
    before = _files(ds.path)
    with pytest.raises(errors.TransformError, match="index 180") as caught:
        late_bad().eval(list(range(200)), ds, progressbar=False, cache_size=0.05)
    assert isinstance(caught.value.__cause__, errors.SampleError)
    assert _files(ds.path) == before


def test_in_place_failure_changes_nothing(tmp_path: Path) -> None:
    ds = _out(tmp_path)
    blobs(8).eval(list(range(10)), ds, progressbar=False)
    before = _files(ds.path)
    with pytest.raises(errors.TransformError, match="index 7"):

        @shoal.compute
        def bump(sample_in: Any, samples_out: Any) -> None:
            v = int(sample_in.x.numpy()[0])
            if v == 7:
                raise ValueError("no")
            samples_out.x.append(v + 1)

        bump().eval(ds, progressbar=False, skip_ok=True)
    assert _files(ds.path) == before


def test_checkpoints_commit_and_a_failure_goes_back_to_the_last_one(tmp_path: Path) -> None:
    ds = _out(tmp_path)
    with pytest.raises(errors.TransformError, match="Last checkpoint: 4 samples") as caught:
        blobs(8, fail_at=5).eval(
            list(range(8)), ds, progressbar=False, checkpoint_interval=2, num_workers=2
        )
    assert caught.value.index == 5
    assert ds.x.numpy().ravel().tolist() == [0, 1, 2, 3]
    assert len(ds.commits) == 2
    blobs(8).eval(list(range(6)), ds, progressbar=False, checkpoint_interval=3)
    assert ds.x.numpy().ravel().tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4, 5]


def test_inside_a_batch_a_failure_drops_the_batch(tmp_path: Path) -> None:
    ds = _out(tmp_path)
    with ds:
        ds.extend({"x": [9], "blob": [np.zeros(2, np.uint8)]})
        blobs(8).eval([1, 2], ds, progressbar=False)
        assert ds.x.numpy().ravel().tolist() == [9, 1, 2]
    assert shoal.load(ds.path).x.numpy().ravel().tolist() == [9, 1, 2]
    with pytest.raises(errors.TransformError), ds:
        ds.extend({"x": [10], "blob": [np.zeros(2, np.uint8)]})
        blobs(8, fail_at=4).eval([3, 4], ds, progressbar=False)
    assert shoal.load(ds.path).x.numpy().ravel().tolist() == [9, 1, 2]


@settings(max_examples=25, deadline=None)
@given(
    items=st.lists(st.integers(-50, 50), max_size=40),
    copies=st.lists(st.integers(0, 3), min_size=40, max_size=40),
    workers=st.sampled_from([0, 1, 3]),
    fail=st.one_of(st.none(), st.integers(0, 39)),
)
def test_property_the_dataset_holds_what_a_loop_would_append(
    tmp_path_factory: pytest.TempPathFactory,
    items: list[int],
    copies: list[int],
    workers: int,
    fail: int | None,
) -> None:
    ds = shoal.empty(str(tmp_path_factory.mktemp("prop") / "ds"))
    ds.create_tensor("x", dtype="int64", max_chunk_size=256)
    ds.create_tensor("t", htype="text")

    @shoal.compute
    def repeat(sample_in: tuple[int, int], samples_out: Any) -> None:
        i, v = sample_in
        if i == fail:
            raise ValueError("fails")
        for k in range(copies[i]):
            samples_out.append({"x": v * 10 + k, "t": f"{i}.{k}"})

    data = list(enumerate(items))
    expected = [(v * 10 + k, f"{i}.{k}") for i, v in data if i != fail for k in range(copies[i])]
    ok = fail is None or fail >= len(items)
    if ok:
        repeat().eval(data, ds, num_workers=workers, skip_ok=True, cache_size=0.0001)
    else:
        with pytest.raises(errors.TransformError) as caught:
            repeat().eval(data, ds, num_workers=workers, skip_ok=True, cache_size=0.0001)
        assert caught.value.index == fail
    got = list(zip(ds.x.numpy().ravel().tolist(), ds.t.text(), strict=True))
    assert got == (expected if ok else [])
