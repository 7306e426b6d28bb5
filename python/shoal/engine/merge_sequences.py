"""Sequence samples a merge brings from the target, placed as deeplake 3.9.52 places them
(``util/merge.copy_tensor_slice`` with ``_merge_sequence_encoders``).

The target's new samples are taken in runs of consecutive indices. For each run the rows
of the target's sequence index that cover it are appended to the head's, their last sample
index moved to its new place and the last one cut at the run's end; the items of the run
(one item range per run, not grouped again) are then copied as a plain tensor's samples are
(``merge_copy``): whole chunks pointed at, edge items written again. The per-item companions
(``flatten_sequence``: shape, info) take the same item ranges, the per-sample ones (the ids)
the sample runs.

Two things deeplake gets wrong are not copied: when the head's last row has as many items
per sample as the run's first row, deeplake drops the head's row and leaves the run's first
row at its index in the target (the merged index then disagrees with the items and reads
back wrong samples); here the two rows become one, as an append makes them. And into an
empty index deeplake copies the target's rows unshifted and uncut; here they are shifted
and cut as into any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .merge_copy import runs


@dataclass
class SequencePlan:
    sample_runs: list[tuple[int, int]]  # target sample index ranges, in order
    item_runs: list[tuple[int, int]]  # the target items of each run
    rows: np.ndarray  # the head's sequence index rows after the merge (uint32, (n, 3))
    lengths: list[int]  # the item count of each sample appended


def merge_rows(dest: np.ndarray, src: np.ndarray, start: int, end: int) -> np.ndarray:
    """The rows ``dest`` with the target samples ``[start, end)`` (rows ``src``) appended."""
    lasts = src[:, 2].astype(np.int64)
    first_row = int(np.searchsorted(lasts, start, side="left"))
    last_row = int(np.searchsorted(lasts, end - 1, side="left"))
    part = src[first_row : last_row + 1].astype(np.int64)
    out = dest.astype(np.int64)
    at = int(out[-1, 2]) + 1 if len(out) else 0
    part[:, 2] += at - start
    part[-1, 2] = end - 1 + at - start
    if len(out) and int(out[-1, 0]) == int(part[0, 0]):
        out = out[:-1]  # the same item count continues: one row
    begin = len(out)
    rows = np.concatenate([out, part])
    for r in range(max(begin - 1, 0), len(rows)):  # where each row's first item is
        if r == 0:
            rows[r, 1] = 0
        else:
            before = int(rows[r - 2, 2]) if r >= 2 else -1
            rows[r, 1] = rows[r - 1, 1] + rows[r - 1, 0] * (rows[r - 1, 2] - before)
    return rows.astype(np.uint32)


def plan_sequence(
    dest_rows: np.ndarray, src_rows: np.ndarray, src_starts: np.ndarray, indices: list[int]
) -> SequencePlan:
    """How the target samples ``indices`` (sorted) of a sequence tensor are appended."""
    sample_runs = runs(indices)
    rows = dest_rows
    item_runs: list[tuple[int, int]] = []
    lengths: list[int] = []
    for start, end in sample_runs:
        rows = merge_rows(rows, src_rows, start, end)
        item_runs.append((int(src_starts[start]), int(src_starts[end])))
        lengths += np.diff(src_starts[start : end + 1]).astype(int).tolist()
    return SequencePlan(sample_runs, item_runs, rows, lengths)
