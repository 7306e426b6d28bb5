"""Merges of sequence samples only the target has (``merge_sequences``): the merged sequence
index, empty sequences, an empty head, and what a merge refuses (changing nothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal.engine.merge_sequences import merge_rows
from shoal.errors import MergeConflictError, VersionError


def rows(*r: tuple[int, int, int]) -> np.ndarray:
    return np.asarray(r, dtype=np.uint32).reshape(-1, 3)


# the target: samples of 2, 2, 3, 3, 3, 1 items
SRC = rows((2, 0, 1), (3, 4, 4), (1, 13, 5))


def test_rows_are_shifted_and_the_last_cut_at_the_run_end() -> None:
    dest = rows((5, 0, 0))
    got = merge_rows(dest, SRC, 1, 4)  # samples 1..3: one of 2 items, two of 3
    assert got.tolist() == [[5, 0, 0], [2, 5, 1], [3, 7, 3]]


def test_the_same_count_on_both_sides_makes_one_row() -> None:
    """deeplake drops the head's row and leaves the target's unshifted; shoal joins them."""
    dest = rows((5, 0, 0), (2, 5, 1))
    got = merge_rows(dest, SRC, 0, 6)
    assert got.tolist() == [[5, 0, 0], [2, 5, 3], [3, 11, 6], [1, 20, 7]]


def test_an_empty_index_takes_the_rows_shifted() -> None:
    got = merge_rows(rows(), SRC, 3, 6)
    assert got.tolist() == [[3, 0, 1], [1, 6, 2]]


def _history(path: Path, head: list[int], dev: list[int]) -> shoal.Dataset:
    ds = shoal.empty(str(path))
    ds.create_tensor("g", htype="sequence[generic]", dtype="int64", max_chunk_size=120)
    ds.g.extend([[np.full(2, 1)] * 2])
    ds.commit("c1")
    ds.checkout("dev", create=True)
    ds.g.extend([[np.full(2, 10 + i)] * n for i, n in enumerate(dev)])
    ds.commit("d1")
    ds.checkout("main")
    if head:
        ds.g.extend([[np.full(2, 20 + i)] * n for i, n in enumerate(head)])
        ds.commit("m1")
    return ds


def _lengths(ds: shoal.Dataset) -> list[int]:
    return [len(s) for s in ds.g.numpy(aslist=True)]


def test_merged_index_is_the_one_appends_make(tmp_path: Path) -> None:
    ds = _history(tmp_path / "m", [3, 2], [2, 2, 0, 4, 0, 1])
    ds.merge("dev")
    assert _lengths(ds) == [2, 3, 2, 2, 2, 0, 4, 0, 1]
    assert np.asarray(ds.g[4].numpy(aslist=True)).tolist() == [[11, 11], [11, 11]]
    ref = shoal.empty(str(tmp_path / "ref"))
    ref.create_tensor("g", htype="sequence[generic]", dtype="int64")
    ref.g.extend([[np.zeros(2, np.int64)] * n for n in [2, 3, 2, 2, 2, 0, 4, 0, 1]])
    ds.close()
    ref.close()
    want = (tmp_path / "ref" / "g" / "sequence_index" / "unsharded").read_bytes()
    merged = (tmp_path / "m").glob("versions/*/g/sequence_index/unsharded")
    assert any(p.read_bytes() == want for p in merged)


def test_merge_into_a_head_that_popped_every_sample(tmp_path: Path) -> None:
    ds = _history(tmp_path / "m", [], [3, 1])
    ds.pop(0)
    ds.commit("empty")
    ds.merge("dev")
    assert _lengths(ds) == [2, 3, 1]  # the popped sample comes back with the target's
    again = shoal.load(str(tmp_path / "m"), read_only=True)
    assert _lengths(again) == [2, 3, 1]


def test_bad_requests_change_nothing(tmp_path: Path) -> None:
    ds = _history(tmp_path / "m", [2], [2, 3])
    with pytest.raises(VersionError, match="conflict_resolution"):
        ds.merge("dev", conflict_resolution="mine")
    ds.checkout("dev")
    ds.g[0] = [np.full(2, -1)] * 2
    ds.commit("d2")
    ds.checkout("main")
    ds.g[0] = [np.full(2, -2)] * 2
    ds.commit("m2")
    with pytest.raises(MergeConflictError, match="'g' at indices \\[0\\]"):
        ds.merge("dev")
    assert _lengths(ds) == [2, 2] and len(ds.commits) == 3
    ds.merge("dev", conflict_resolution="ours")
    assert _lengths(ds) == [2, 2, 2, 3]
    assert np.asarray(ds.g[0].numpy(aslist=True))[0].tolist() == [-2, -2]
