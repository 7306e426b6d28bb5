"""deeplake's smaller dataset and tensor attributes under shoal's async API, and the limits
of ``ignore_errors``: the side-by-side corpus (tests/interop/idioms.py) checks the sync values
against deeplake 3.9.52; this checks what it cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import errors
from shoal.errors import is_bad_sample


async def test_async_twins_give_the_sync_values(tmp_path: Path) -> None:
    ds = await shoal.empty_async(str(tmp_path / "ds"))
    y = await ds.create_tensor_async("y", dtype="int32")
    await y.extend_async([np.zeros(2, np.int32), np.zeros(3, np.int32), np.zeros(3, np.int32)])
    assert str(await y.shape_interval_async()) == "(3, 2:3)"
    assert str(await y[1:].shape_interval_async()) == "(2, 3)"
    assert await y.is_dynamic_async() and not await y[1:].is_dynamic_async()
    assert ds.num_samples == 3 and ds[1:].num_samples == 3 and y[1:].num_samples == 3
    assert [e.value for e in ds[2].index.values] == [2] and ds.no_view_dataset.index.is_trivial()
    await y.extend_async(
        [np.zeros(1, np.int32), "bad", np.zeros((2, 2), np.int32)], ignore_errors=True
    )
    assert len(y) == 4
    await ds.extend_async({"y": [np.ones(1, np.int32), "bad"]}, ignore_errors=True)
    assert len(y) == 5
    made = await shoal.like_async("mem://like-async", ds)
    assert list(made.tensors) == ["y"] and len(made) == 0


def test_ignore_errors_skips_bad_samples_only(tmp_path: Path) -> None:
    assert is_bad_sample(errors.SampleError("x")) and is_bad_sample(ValueError("x"))
    for failure in (
        errors.StorageError("store down"),
        errors.ReadOnlyError("read-only"),
        errors.DatasetLockedError("locked", "someone", 1.0, 2.0),
        errors.VersionError("past commit"),
    ):
        assert not is_bad_sample(failure)
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("t", htype="text")
    ds.x.append(1)
    ds.commit("one")
    ds.checkout(ds.commits[-1]["commit"])  # a past commit: writes are refused, not skipped
    with pytest.raises(errors.ShoalError):
        ds.x.extend([2, 3], ignore_errors=True)
    ds.checkout("main")
    # columns of unequal lengths are a bad call, not a bad sample
    with pytest.raises(errors.SampleError):
        ds.extend({"x": [1, 2], "t": ["a"]}, ignore_errors=True)
    assert len(ds.x) == 1 and len(ds.t) == 0


def test_like_names_a_missing_tensor(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    with pytest.raises(errors.TensorNotFoundError, match="'nope'.*'x'"):
        shoal.like(str(tmp_path / "out"), ds, tensors=["nope"])
    assert not shoal.exists(str(tmp_path / "out"))
