"""Updates and pops of one tensor, staged until the next flush rewrites their chunks.

An update is validated and converted like an append (``staging.prepare``) and held as the
sample's new stored bytes (or the array to tile); reads see it at once. A pop is held as the
indices removed (descending) with the sample ids deeplake records for them. The flush
(``flush_plan``) rewrites the chunks holding them (``rewrite``) and records them in the
commit diff exactly as deeplake does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .encoders import CommitDiff
from .merge_copy import Copy
from .rewrite import Change
from .samples import Prepared


@dataclass
class Edits:
    updates: dict[int, Change] = field(default_factory=dict)  # index -> new value
    pops: list[int] = field(default_factory=list)  # descending, positions before the pops
    pop_ids: list[int | None] = field(default_factory=list)  # the popped samples' ids
    rechunk: bool = False  # cut every chunk again (ds.rechunk), flushed on its own
    copied: Copy | None = None  # samples a merge appends from its target (merge_copy)
    # A sequence tensor's edits above are of items; its commit diff records samples:
    sample_updates: set[int] | None = None  # the samples updated
    sample_pops: list[int] | None = None  # the samples popped (descending; ids: pop_ids)
    diff_shift: int = 0  # items removed before deeplake's pop makes the diff (sequence_edits)
    touched: bool = False  # write the commit diff even if nothing changed (a merge does)

    def __bool__(self) -> bool:
        return bool(
            self.updates
            or self.pops
            or self.rechunk
            or self.copied
            or self.sample_updates
            or self.sample_pops
            or self.touched
        )

    def clear(self) -> None:
        self.updates.clear()
        self.pops.clear()
        self.pop_ids.clear()
        self.rechunk = False
        self.copied = None
        self.sample_updates = self.sample_pops = None
        self.diff_shift = 0
        self.touched = False

    def changes(self) -> dict[int, Change]:
        if self.pops and self.updates:
            raise AssertionError("pops are flushed on their own")
        if self.pops:
            return dict.fromkeys(self.pops)
        return dict(self.updates)

    def apply_to(self, diff: CommitDiff) -> None:
        updated = self.updates if self.sample_updates is None else self.sample_updates
        for i in sorted(updated):
            diff.update_data(i)
        popped = self.pops if self.sample_pops is None else self.sample_pops
        for i, sid in zip(popped, self.pop_ids, strict=True):
            diff.pop(i, sid)
        if self.copied is not None:  # only the samples written again count as added
            diff.added_end += self.copied.added


def changes_of(prepared: Prepared) -> list[Change]:
    """Prepared samples as changes: their stored bytes (copied: the caller may reuse its
    arrays), or the array of a tiled one."""
    out: list[Change] = []
    if prepared.packed is not None:
        offs = np.zeros(len(prepared.sizes) + 1, dtype=np.int64)
        np.cumsum(prepared.sizes, out=offs[1:])
        data = prepared.packed
        blobs: list[Any] = [data[offs[i] : offs[i + 1]] for i in range(len(prepared.sizes))]
    else:
        blobs = prepared.blobs
    for j, shape in enumerate(prepared.shapes):
        arr = prepared.tiled.get(j)
        if arr is not None:
            out.append((True, np.array(arr, copy=True), tuple(shape)))
        else:
            out.append((False, bytes(blobs[j]), tuple(shape)))
    return out
