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

from ..errors import SampleError, SampleIndexError
from ..format.htypes import companion_samples
from ..links.engine import check_samples as check_links
from . import sequence_edits, sequences
from .samples import Prepared
from .staging import has_paths

if TYPE_CHECKING:
    from .dataset import DatasetEngine
    from .tensor import TensorEngine


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
#: One tensor's update: (tensor, samples selected, their flat indices (a sequence tensor's
#: items; a plain tensor's: the samples again), the new values, one per flat index).
Edit = tuple["TensorEngine", np.ndarray, np.ndarray, Any]


async def update(
    ds: DatasetEngine, edits: list[tuple[str, np.ndarray, Any]], part: bool = False
) -> None:
    """Stage new values: ``(tensor key, indices, samples)`` per tensor, all or nothing.
    ``part``: the samples are the old ones changed in part, whose sample info stays (as in
    deeplake, which keeps the file's record). A sequence tensor's samples are whole
    sequences, each of as many items as the one it replaces (``sequence_edits``)."""
    ds.check_writable()
    await _load(ds, [key for key, _, _ in edits])
    await stage_edits(ds, _checked(ds, edits), part)


def update_now(ds: DatasetEngine, edits: list[tuple[str, np.ndarray, Any]]) -> bool:
    """:func:`update` on the caller's thread when it needs no I/O (plain tensors, every one
    loaded, no linked file or file path to read, no sample appended in this batch and not
    written yet): a sync ``t[i] = x`` then costs no hop to the I/O loop. The same checks
    raise the same errors; False: nothing was done, :func:`update` must run."""
    tensor_keys = [key for key, _, _ in edits]
    if not ds.is_loaded(tensor_keys):
        return False
    if not ds.is_loaded([k for key in tensor_keys for k in ds.with_companions(key)], full=True):
        return False
    for key, _, samples in edits:
        t = ds.tensors[key]
        if t.seq is not None or t.meta.get("is_link"):
            return False
        if t.kind.reads_files and has_paths(samples):
            return False
    ds.check_writable()
    checked = _checked(ds, edits)
    if _unwritten(checked):
        return False
    _install(ds, checked, part=False)
    return True


def _checked(ds: DatasetEngine, edits: list[tuple[str, np.ndarray, Any]]) -> list[Edit]:
    """The edits, their indices and value counts checked, as flat edits."""
    flat: list[Edit] = []
    for key, idx, samples in edits:
        t = ds.tensors[key]
        if t.seq is not None:
            sequence_edits.check_samples(t, idx)
        else:
            t.check_indices(idx)
        if len(samples) != idx.size:
            raise SampleError(
                f"{idx.size} samples of tensor {t.name!r} are selected but {len(samples)} "
                "values were given; give one value per selected sample"
            )
        if idx.size > 1 and len(set(idx.tolist())) != idx.size:
            raise SampleIndexError(
                f"the same sample of tensor {t.name!r} is selected twice; update each once"
            )
        if t.seq is not None:
            flat.append((t, idx, *sequence_edits.flat_update(t, idx, samples)))
        else:
            flat.append((t, idx, idx, samples))
    return flat


async def update_items(ds: DatasetEngine, key: str, sample: int, sub: Any, value: Any) -> None:
    """``t[sample][sub] = value`` on a sequence tensor: some items of one sample replaced."""
    ds.check_writable()
    await _load(ds, [key])
    t = ds.tensors[key]
    idx = np.asarray([sample], dtype=np.int64)
    sequence_edits.check_samples(t, idx)
    flat, values = sequence_edits.item_edit(t, sample, sub, value)
    await stage_edits(ds, [(t, idx, flat, values)], part=False)


def _unwritten(edits: list[Edit]) -> bool:
    """Whether an edit touches samples appended in this batch and not written yet."""
    return any(int(f.max(initial=-1)) >= t.readable_stored for t, _, f, _ in edits)


async def stage_edits(ds: DatasetEngine, edits: list[Edit], part: bool) -> None:
    """Validate and convert checked edits, then stage them all (all or nothing)."""
    if _unwritten(edits):
        # samples appended in this batch and not written yet: write them, then update
        await ds.writes.flush()
    ready: list[Edit] = []
    for t, idx, flat, samples in edits:
        if t.meta.get("is_link"):  # linked files are checked (and read) first
            samples = await check_links(t, samples)
        ready.append((t, idx, flat, await t.read_files(samples)))
    _install(ds, ready, part)


def _install(ds: DatasetEngine, edits: list[Edit], part: bool) -> None:
    """Convert every value (a bad one raises, nothing changed), then stage them all."""
    staged: list[tuple[TensorEngine, list[int], tuple[Prepared, list[str]], list[int] | None]]
    staged = []
    for t, idx, flat, samples in edits:
        if t.seq is not None:
            prepared = sequence_edits.prepare(t, flat, samples)
        else:
            prepared = t.prepare(samples)
        indices = flat.tolist()
        of_samples = idx.tolist() if t.seq is not None else None
        staged.append((t, indices, prepared, of_samples))
        for child, link in _linked(ds, t, t.key) if indices else ():
            if not link.get("update") or (part and link.get("extend") == "extend_info"):
                continue
            if t.seq is not None and not link.get("flatten_sequence", True):
                continue  # one value per sample: deeplake updates none of them
            p0 = prepared[0]
            values = companion_samples(
                t.name, link.get("extend"), p0.companion_shapes, p0.companion_infos
            )
            staged.append((child, indices, child.prepare(values), None))
    for t, indices, (p, names), of_samples in staged:
        t.stage_updates(indices, p, names, of_samples)


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
    await ds.writes.flush()  # what is staged is written first: every later index moves
    plans: list[tuple[TensorEngine, list[int], list[int | None]]] = []
    sequence_plans: list[tuple[TensorEngine, list[int], list[int | None], int]] = []
    for key in tensor_keys:
        t = ds.tensors[key]
        mine = [i for i in indices if i < t.samples]
        if not mine:
            continue
        ids: list[int | None] = [None] * len(mine)
        items: list[int] = []
        for child, link in _linked(ds, t, key):
            if link.get("extend") == "extend_id" and child.length >= t.samples:
                values = await child.read_stacked(np.asarray(mine, dtype=np.int64))
                ids = [int(v) for v in values.reshape(-1)]
        if t.seq is not None:
            shift = sequence_edits.diff_shift(t, mine) if t.commit_diff is None else 0
            sequence_plans.append((t, mine, ids, shift))
            items = sequence_edits.pop_items(t, mine)
        for child, link in _linked(ds, t, key):
            per_item = t.seq is not None and link.get("flatten_sequence", True)
            theirs = items if per_item else mine
            plans.append((child, [i for i in theirs if i < child.length], [None] * len(theirs)))
        if t.seq is None:
            plans.append((t, mine, ids))
    for t, mine, ids in plans:
        if mine:
            t.stage_pops(mine, ids[: len(mine)])
    for t, mine, ids, shift in sequence_plans:
        t.stage_sequence_pops(mine, ids, shift)
    await ds.writes.flush()


async def rechunk(ds: DatasetEngine, tensor_keys: list[str]) -> None:
    """Cut the chunks of tensors again (written at once, after what is staged)."""
    ds.check_writable()
    await _load(ds, tensor_keys)
    await ds.writes.flush()
    for key in tensor_keys:
        t = ds.tensors[key]
        if len(t.chunk_ids) > 1:
            t.edits.rechunk = True
    await ds.writes.flush()
