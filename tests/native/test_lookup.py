"""Batch lookups against a straightforward numpy reference."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoal import _native
from shoal.errors import CorruptDataError


def test_locate_through_tiles() -> None:
    # Chunk A holds 0..=1, sample 2 is tiled over three chunks, chunk E holds 3..=5.
    last = np.array([1, 2, 2, 2, 5], dtype=np.uint64)
    rows, local = _native.locate_samples(last, np.array([0, 1, 2, 3, 5], dtype=np.int64))
    assert rows.dtype == np.int64 and rows.tolist() == [0, 0, 1, 4, 4]
    assert local.tolist() == [0, 1, 0, 0, 2]
    with pytest.raises(IndexError, match="6"):
        _native.locate_samples(last, np.array([0, 6, 7], dtype=np.int64))
    with pytest.raises(IndexError):
        _native.locate_samples(last, np.array([-1], dtype=np.int64))
    with pytest.raises(CorruptDataError):
        _native.locate_samples(np.array([3, 1], dtype=np.uint64), np.array([0], dtype=np.int64))
    with pytest.raises(TypeError):
        _native.locate_samples(last.astype(np.int64), np.array([0], dtype=np.int64))


def test_locate_accepts_a_column_view() -> None:
    table = np.array([[11, 1], [22, 4]], dtype=np.uint64)
    rows, local = _native.locate_samples(table[:, 1], np.array([4, 0], dtype=np.int64))
    assert rows.tolist() == [1, 0] and local.tolist() == [2, 0]


@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=30),
    st.lists(st.integers(0, 200), max_size=30),
)
def test_locate_matches_searchsorted(steps: list[int], wanted: list[int]) -> None:
    last = np.cumsum(np.array(steps, dtype=np.uint64))
    total = int(last[-1]) + 1
    idx = np.array([w % total for w in wanted], dtype=np.int64)
    rows, local = _native.locate_samples(last, idx)
    ref_rows = np.searchsorted(last, idx.astype(np.uint64), side="left")
    prev = np.where(ref_rows > 0, last[np.maximum(ref_rows - 1, 0)].astype(np.int64) + 1, 0)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(local, idx - prev)


def test_sample_shapes_and_ranges() -> None:
    shapes = np.array([[2, 3, 0], [3, 3, 1]], dtype=np.uint32)
    out = _native.sample_shapes(shapes, np.array([1, 0], dtype=np.int64))
    assert out.dtype == np.int64 and out.tolist() == [[3, 3], [2, 3]]
    with pytest.raises(IndexError):
        _native.sample_shapes(shapes, np.array([2], dtype=np.int64))
    bp = np.array([[4, 0, 9]], dtype=np.uint32)
    r = _native.sample_ranges(bp, np.array([0, 9, 5], dtype=np.int64))
    assert r.tolist() == [[0, 4], [36, 40], [20, 24]]
    with pytest.raises(IndexError):
        _native.sample_ranges(bp, np.array([10], dtype=np.int64))
    with pytest.raises(ValueError):
        _native.sample_ranges(np.zeros((1, 2), dtype=np.uint32), np.array([0], dtype=np.int64))
    assert _native.sample_shapes(shapes, np.array([], dtype=np.int64)).shape == (0, 2)


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(1, 4)), min_size=1, max_size=10))
def test_ranges_match_reference(runs: list[tuple[int, int]]) -> None:
    # Consecutive samples of equal size share a row; build the encoder like deeplake does.
    rows: list[list[int]] = []
    sizes: list[int] = []
    start = 0
    for nbytes, count in runs:
        sizes += [nbytes] * count
        rows.append([nbytes, start, len(sizes) - 1])
        start += nbytes * count
    bp = np.array(rows, dtype=np.uint32)
    local = np.arange(len(sizes), dtype=np.int64)
    got = _native.sample_ranges(bp, local)
    ends = np.cumsum(sizes)
    want: npt.NDArray[np.int64] = np.stack([ends - np.array(sizes), ends], axis=1)
    np.testing.assert_array_equal(got, want)
