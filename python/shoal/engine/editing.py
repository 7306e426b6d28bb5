"""Sample-level edits of a dataset: appends across tensors, updates and pops.

Each is all or nothing across the tensors it touches: every value of every tensor (and of
their hidden companions) is validated and converted before anything is staged, so a bad
value leaves every tensor as it was. Updates are staged like appends (written by the next
flush, or at the end of a ``with ds:`` batch); a pop is written at once, after flushing what
is staged, because every later index moves. Storage sees both through the flush journal:
crash-safe like an append.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SampleError, SampleIndexError, ShoalError
from ..format.htypes import companion_samples
from ..links.engine import check_samples as check_links
from . import sequences
from .samples import Prepared

if TYPE_CHECKING:
    from .dataset import DatasetEngine
    from .tensor import TensorEngine


def _check_editable(t: TensorEngine, what: str) -> None:
    if t.meta.get("is_sequence"):
        raise ShoalError(
            f"tensor {t.name!r} is a sequence tensor: shoal does not {what} sequence samples "
            f"yet, and nothing was changed; append new samples instead, or {what} with deeplake"
        )


async def _load(ds: DatasetEngine, tensor_keys: Sequence[str]) -> None:
    if ds.is_loaded(list(tensor_keys)):
        everything = [k for key in tensor_keys for k in ds.with_companions(key)]
        if ds.is_loaded(everything, full=True):
            return
    await ds.load(list(tensor_keys))
    everything = [k for key in tensor_keys for k in ds.with_companions(key)]
    await ds.load(everything, full=True)


def _linked(ds: DatasetEngine, t: TensorEngine, key: str) -> list[tuple[TensorEngine, Any]]:
    return [(ds.tensors[k], link) for k, link in t.meta.get("links", {}).items() if k in ds.tensors]


# -- appends across tensors -----------------------------------------------------------------
async def extend_columns(ds: DatasetEngine, columns: dict[str, Any]) -> None:
    """Stage ``{tensor key: samples}`` (equal lengths), all or nothing."""
    ds.check_writable()
    await _load(ds, list(columns))
    installs = []
    for key, samples in columns.items():
        parent = ds.tensors[key]
        lengths = None
        if parent.seq is not None:  # items are checked and staged as a plain tensor's
            samples, lengths = sequences.flatten(parent.name, samples)
        if parent.meta.get("is_link"):  # linked files are checked (and read) first
            samples = await check_links(parent, samples)
        installs.append(ds.prepare_rows(key, await parent.read_files(samples), lengths))
    for install in installs:
        install()


# -- updates ---------------------------------------------------------------------------------
async def update(
    ds: DatasetEngine, edits: list[tuple[str, np.ndarray, Any]], part: bool = False
) -> None:
    """Stage new values: ``(tensor key, indices, samples)`` per tensor, all or nothing.
    ``part``: the samples are the old ones changed in part, whose sample info stays (as in
    deeplake, which keeps the file's record)."""
    ds.check_writable()
    await _load(ds, [key for key, _, _ in edits])
    for key, idx, samples in edits:
        t = ds.tensors[key]
        _check_editable(t, "update")
        t.check_indices(idx)
        if len(samples) != idx.size:
            raise SampleError(
                f"{idx.size} samples of tensor {t.name!r} are selected but {len(samples)} "
                "values were given; give one value per selected sample"
            )
        if len(set(idx.tolist())) != idx.size:
            raise SampleIndexError(
                f"the same sample of tensor {t.name!r} is selected twice; update each once"
            )
    if any(int(idx.max(initial=-1)) >= ds.tensors[k].readable_stored for k, idx, _ in edits):
        # samples appended in this batch and not written yet: write them, then update
        await ds.writes.flush()
    staged: list[tuple[TensorEngine, list[int], tuple[Prepared, list[str]]]] = []
    for key, idx, samples in edits:
        t = ds.tensors[key]
        if t.meta.get("is_link"):  # linked files are checked (and read) first
            samples = await check_links(t, samples)
        prepared = t.prepare(await t.read_files(samples))
        indices = idx.tolist()
        staged.append((t, indices, prepared))
        for child, link in _linked(ds, t, key):
            if link.get("update") and not (part and link.get("extend") == "extend_info"):
                p0 = prepared[0]
                values = companion_samples(
                    t.name, link.get("extend"), p0.companion_shapes, p0.companion_infos
                )
                staged.append((child, indices, child.prepare(values)))
    for t, indices, (p, names) in staged:
        t.stage_updates(indices, p, names)


# -- pops ------------------------------------------------------------------------------------
def check_pop_indices(index: Any, length: int, what: str) -> list[int]:
    """deeplake's rules: ints, no negatives, no repeats, each below ``length``; descending."""
    if index is None:
        index = [length - 1]
    if not isinstance(index, list | tuple | range | np.ndarray):
        index = [index]
    out = []
    for i in index:
        if isinstance(i, bool) or not isinstance(i, int | np.integer):
            raise SampleIndexError(f"pop takes int indices, got {i!r}")
        out.append(int(i))
    if len(set(out)) != len(out):
        raise SampleIndexError(f"pop got a repeated index in {out}; give each index once")
    if out and length == 0:
        raise SampleIndexError(f"cannot pop from {what}: it is empty")
    for i in out:
        if i < 0:
            raise SampleIndexError(
                f"pop does not take negative indices (got {i}); use {length + i} for that sample"
            )
        if i >= length:
            raise SampleIndexError(f"index {i} is out of range: {what} has {length} samples")
    return sorted(out, reverse=True)


async def pop(ds: DatasetEngine, tensor_keys: list[str], indices: list[int]) -> None:
    """Remove samples ``indices`` (descending, checked) from tensors and their companions,
    and write it at once. Indices past a tensor's end leave that tensor alone (deeplake)."""
    ds.check_writable()
    await _load(ds, tensor_keys)
    for key in tensor_keys:
        _check_editable(ds.tensors[key], "pop")
    await ds.writes.flush()  # what is staged is written first: every later index moves
    plans: list[tuple[TensorEngine, list[int], list[int | None]]] = []
    for key in tensor_keys:
        t = ds.tensors[key]
        mine = [i for i in indices if i < t.length]
        if not mine:
            continue
        ids: list[int | None] = [None] * len(mine)
        for child, link in _linked(ds, t, key):
            if link.get("extend") == "extend_id" and child.length >= t.length:
                values = await child.read_stacked(np.asarray(mine, dtype=np.int64))
                ids = [int(v) for v in values.reshape(-1)]
        plans.append((t, mine, ids))
        for child, _ in _linked(ds, t, key):
            plans.append((child, [i for i in mine if i < child.length], [None] * len(mine)))
    for t, mine, ids in plans:
        if mine:
            t.stage_pops(mine, ids[: len(mine)])
    await ds.writes.flush()


async def rechunk(ds: DatasetEngine, tensor_keys: list[str]) -> None:
    """Cut the chunks of tensors again (written at once, after what is staged)."""
    ds.check_writable()
    await _load(ds, tensor_keys)
    await ds.writes.flush()
    for key in tensor_keys:
        t = ds.tensors[key]
        _check_editable(t, "rechunk")
        if len(t.chunk_ids) > 1:
            t.edits.rechunk = True
    await ds.writes.flush()
