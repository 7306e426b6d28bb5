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


def test_indexing_inside_samples() -> None:
    """``t[i, 1:3]``, ``t[:, 0]``, ``t[i][2:]``: reads, shapes, and writes through the view;
    the side-by-side corpus checks the values against deeplake."""
    ds = shoal.empty("mem://inside")
    ds.create_tensor("d", dtype="int32")
    ds.d.extend([np.zeros((3, 4), np.int32), np.ones((5, 4), np.int32)])
    assert ds.d[:, 0].shape == (2, 4) and ds.d[:, 0].numpy().tolist() == [[0] * 4, [1] * 4]
    assert ds.d[:, :2].numpy().shape == (2, 2, 4)
    assert ds.d[:, 3:].shape == (2, None, 4)  # 0 rows of the first sample, 2 of the second
    with pytest.raises(errors.DynamicShapeError, match="aslist=True"):
        ds.d[:, 3:].numpy()
    assert [a.shape for a in ds.d[:, 3:].numpy(aslist=True)] == [(0, 4), (2, 4)]
    assert ds.d[1][2:].shape == (3, 4) and ds.d[1][2:][0].shape == (4,)
    with pytest.raises(errors.ShoalError, match="already indexes inside"):
        ds.d[1][2:][0] = np.zeros(4, np.int32)
    ds.d[1, 0] = np.full(4, 7, np.int32)  # part of a sample, as before
    assert ds.d[1].numpy()[:, 0].tolist() == [7, 1, 1, 1, 1]
    ds.create_tensor("t", htype="text")
    ds.t.append("abc")
    with pytest.raises(IndexError):
        ds.t[0][1:2]  # text samples are whole values


async def test_indexing_inside_samples_async() -> None:
    ds = await shoal.empty_async("mem://inside-async")
    x = await ds.create_tensor_async("x", dtype="int32")
    await x.extend_async(np.arange(40, dtype=np.int32).reshape(2, 4, 5))
    assert (await x[:, 0, 1:3].numpy_async()).tolist() == [[1, 2], [21, 22]]
    await x[0, 1:3].update_async(np.zeros((2, 5), np.int32))
    assert (await x[0].numpy_async())[:, 0].tolist() == [0, 0, 0, 15]
    with pytest.raises(errors.ShoalError, match="more than once"):
        await x[0][1:3][0].update_async(np.zeros(5, np.int32))


async def test_tobytes_of_one_stored_sample() -> None:
    ds = await shoal.empty_async("mem://tobytes")
    img = await ds.create_tensor_async("img", htype="image", sample_compression="png")
    png = shoal._native.png_encode(np.full((3, 4, 3), 9, np.uint8))
    await img.append_async(png)
    async with ds:  # staged, not yet flushed: the staged bytes
        await img.append_async(png)
        assert await img[1].tobytes_async() == png
    assert await img[0].tobytes_async() == png
    seq = await ds.create_tensor_async("s", htype="sequence[generic]", dtype="int32")
    await seq.append_async([np.ones(2, np.int32)])
    with pytest.raises(errors.ShoalError, match="sequence tensor 's'"):
        await seq[0].tobytes_async()
    big = await ds.create_tensor_async("big", dtype="uint8", tiling_threshold=1000)
    await big.append_async(np.zeros((100, 100), np.uint8))  # tiled: 10 KB over 1 KB
    with pytest.raises(errors.ShoalError, match="tiles"):
        await big[0].tobytes_async()
    with pytest.raises(errors.ShoalError, match="exactly one sample"):
        await img[0:2].tobytes_async()
    assert ds[0].sample_indices == [0] and img[[1, 0]].sample_indices == [1, 0]


async def test_filter_query_strings() -> None:
    """The side-by-side corpus checks query results against deeplake; here: views, the
    async API, and queries refused before anything runs."""
    ds = await shoal.empty_async("mem://queries")
    labels = await ds.create_tensor_async("labels", htype="class_label", class_names=["a", "b"])
    await labels.extend_async([0, 1, 1, 0])
    x = await ds.create_tensor_async("x", dtype="int32")
    await x.extend_async(np.arange(4, dtype=np.int32))
    view = await ds[1:4].filter_async("labels == 'b'")
    assert (await view.x.numpy_async()).ravel().tolist() == [1, 2]
    assert len(await ds.filter_async("labels == 'nope'")) == 0  # an unknown class: no match
    for bad, says in [
        ("__import__('os')", "contains"),
        ("x.__class__", "no attribute"),
        ("x = 1", "not an expression"),
        ("[i for i in x]", "not allowed"),
        ("y > 1", "no tensor or group 'y'"),
        ("labels < 'b'", "not ordered"),
        ("x.size(", "not an expression"),
    ]:
        with pytest.raises(errors.ShoalError, match=says):
            await ds.filter_async(bad)
    wide = await ds.create_tensor_async("w", dtype="int32")
    await wide.extend_async(np.zeros((4, 3), np.int32))
    with pytest.raises(errors.ShoalError, match="gives an array for sample 0"):
        await ds.filter_async("w > 1")
