"""Samples a merge brings from the target, copied as deeplake 3.9.52 copies them
(``util/merge.copy_tensor_slice``).

The target indices to copy are grouped in runs of consecutive indices. In each run, every
chunk (or tiled sample) the run covers whole is not copied: the head's chunk-id table gets
the chunk's row (its last index moved to its new place) and the head's ``chunk_set`` names
the commit (and tensor) that holds the chunk, so the merge writes no sample of it and the
commit diff does not count it as added. Only the samples at the run's edges, in chunks shared
with samples not copied, are written again as new chunks (and counted as added), as
deeplake's ``extend`` of them does.

The plan (``plan_copy``) reads nothing but the target's chunk index; the edge samples are
read and prepared at once (bad data fails the merge before anything is written) and cut
into chunks by the head's flush (``write_copy``), which the flush journal covers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..format import keys
from . import staging
from .chunk_writer import ChunkWriter, Session
from .rewrite import Tiles, _remove, _stored_samples
from .samples import Prepared
from .staging import Staged

if TYPE_CHECKING:
    from .tensor import TensorEngine


@dataclass
class Pointers:
    """Whole chunks of the target: their rows (target indices) and where they live."""

    rows: np.ndarray  # (n, 2): chunk id, last target index
    before: int  # the target index the first row starts at
    tiles: Tiles  # tile encoder entries of those rows, by target index
    owners: list[tuple[str, str, str]]  # (chunk name, commit, tensor key) per distinct chunk


@dataclass
class Copy:
    """What a merge appends to one tensor, in order: edge samples and whole chunks."""

    parts: list[Prepared | Pointers] = field(default_factory=list)
    added: int = 0  # samples written again (deeplake's commit diff counts only these)


@dataclass
class Written:
    rows: np.ndarray
    tiles: Tiles
    names: list[str]  # new chunks, owned by the head
    owners: dict[str, tuple[str, str]]  # the target's chunks named: (commit, tensor key)
    written: list[str]


def runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as ``[start, end)`` runs of consecutive ones (``_group_ranges``)."""
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def split_run(
    lasts: np.ndarray, start: int, end: int
) -> tuple[tuple[int, int] | None, tuple[int, int] | None, tuple[int, int] | None]:
    """(whole chunk rows, left edge samples, right edge samples) of the run ``[start, end)``
    (deeplake's ``_get_required_chunks_for_range``, case by case)."""
    start_row = int(np.searchsorted(lasts, start, side="left"))
    end_row = int(np.searchsorted(lasts, end - 1, side="left"))
    last_index = lasts[end_row]
    while end_row + 1 < len(lasts) and lasts[end_row + 1] == last_index:
        end_row += 1  # a tiled sample's rows go together
    count = end_row + 1 - start_row
    start_aligned = start == 0 if start_row == 0 else start == int(lasts[start_row - 1]) + 1
    end_aligned = int(lasts[end_row]) == end - 1
    after_first = int(lasts[start_row]) + 1
    if count == 1:
        if start_aligned and end_aligned:
            return (start_row, start_row + 1), None, None
        return None, (start, end), None
    if count == 2:
        if start_aligned and end_aligned:
            return (start_row, end_row + 1), None, None
        if not start_aligned and not end_aligned:
            return None, (start, end), None
        if start_aligned:
            return (start_row, start_row + 1), None, (after_first, end)
        return (end_row, end_row + 1), (start, after_first), None
    before_last = int(lasts[end_row - 1]) + 1
    if start_aligned and not end_aligned:
        return (start_row, end_row), None, (before_last, end)
    if end_aligned and not start_aligned:
        return (start_row + 1, end_row + 1), (start, after_first), None
    if not start_aligned and not end_aligned:
        return (start_row + 1, end_row), (start, after_first), (before_last, end)
    return (start_row, end_row + 1), None, None


async def stored_run(theirs: TensorEngine, lasts: np.ndarray, start: int, end: int) -> Prepared:
    """Target samples ``[start, end)`` as stored (compressed images keep their bytes, as
    deeplake's copy keeps them); a tiled one as its array, to be tiled again."""
    out = Prepared()
    chunks: dict[int, tuple[list[Any], list[tuple[int, ...]]]] = {}
    for i in range(start, end):
        row = int(np.searchsorted(lasts, i, side="left"))
        last = int(lasts[row])
        if last in theirs.tiles:
            out.tiled[len(out.shapes)] = (await theirs.read_arrays(np.asarray([i])))[0]
            out.blobs.append(b"")
            out.shapes.append(tuple(theirs.tiles[last][0]))
            continue
        if row not in chunks:
            first = int(lasts[row - 1]) + 1 if row else 0
            cid = int(theirs.chunk_ids[row, 0])
            chunks[row] = await _stored_samples(theirs, cid, last - first + 1)
        first = int(lasts[row - 1]) + 1 if row else 0
        blobs, shapes = chunks[row]
        out.blobs.append(bytes(blobs[i - first]))
        out.shapes.append(shapes[i - first])
    return out


async def plan_copy(
    theirs: TensorEngine, indices: list[int], ranges: list[tuple[int, int]] | None = None
) -> Copy:
    """How to append the target samples ``indices`` (sorted) of ``theirs`` to the head, or
    the ``[start, end)`` ranges given (a sequence's items: each range on its own, as
    deeplake takes them; an empty one copies nothing)."""
    ids, tiles = theirs.chunk_ids, theirs.tiles
    lasts = ids[:, 1].astype(np.int64)
    owners = await theirs.fetch.load_owners()
    out = Copy()

    async def samples(s: int, e: int) -> None:
        out.parts.append(await stored_run(theirs, lasts, s, e))
        out.added += e - s

    for start, end in runs(indices) if ranges is None else ranges:
        if start == end:
            continue
        whole, left, right = split_run(lasts, start, end)
        if left:
            await samples(*left)
        if whole:
            r0, r1 = whole
            before = int(lasts[r0 - 1]) + 1 if r0 else 0
            rows = ids[r0:r1].copy()
            where = []
            for cid in dict.fromkeys(int(c) for c in rows[:, 0]):
                name = keys.chunk_name(cid)
                commit, key = owners.get(name, (keys.FIRST_COMMIT_ID, theirs.key))
                where.append((name, commit, key))
            mine = {i: tiles[i] for i in range(before, int(lasts[r1 - 1]) + 1) if i in tiles}
            out.parts.append(Pointers(rows, before, mine, where))
        if right:
            await samples(*right)
    return out


def stage_copy(ours: TensorEngine, theirs: TensorEngine, copy: Copy) -> None:
    """Install the plan (cannot fail): the length and shape bounds grow now."""
    meta = ours.meta
    for part in copy.parts:
        if isinstance(part, Pointers):
            meta["length"] = int(meta.get("length", 0)) + int(part.rows[-1, 1]) + 1 - part.before
        else:
            staging.update_shape_bounds(meta, part.bound_shapes)
            meta["length"] = int(meta.get("length", 0)) + len(part)
    src = theirs.meta
    if src.get("min_shape"):  # deeplake widens the bounds by the whole target tensor's
        staging.update_shape_bounds(meta, [tuple(src["min_shape"]), tuple(src["max_shape"])])
    for k in ("dtype", "typestr", "htype"):
        if meta.get(k) is None and src.get(k) is not None:
            meta[k] = src[k]
    ours.edits.copied = copy
    ours.writer.hold_tail = True


async def write_copy(t: TensorEngine, ids: np.ndarray, copy: Copy) -> Written:
    """The rows ``copy`` appends after the chunk-id table ``ids``; its edge samples written
    as new chunks (listed in ``written`` as they go, for the flush to remove on failure)."""
    out = Written(np.zeros((0, 2), np.uint64), {}, [], {}, [])
    try:
        out.rows = await _append(t, ids, copy, out)
    except BaseException:
        await asyncio.shield(_remove(t, out.written))
        raise
    return out


async def _append(t: TensorEngine, ids: np.ndarray, copy: Copy, out: Written) -> np.ndarray:
    table = ids
    head, dest = t.ctx.commit_id, t.key
    for part in copy.parts:
        pos = int(table[-1, 1]) + 1 if len(table) else 0
        if isinstance(part, Pointers):
            rows = part.rows.copy()
            if len(table) and int(table[-1, 0]) == int(rows[0, 0]):
                table = table[:-1]  # the same chunk continues (deeplake's _merge_encodings)
            rows[:, 1] = rows[:, 1].astype(np.int64) - part.before + pos
            out.tiles.update({i - part.before + pos: v for i, v in part.tiles.items()})
            for name, commit, key in part.owners:
                if commit != head or key != dest:
                    out.owners[name] = (commit, key)
            table = np.concatenate([table, rows])
            continue
        staged = Staged()
        staging.stage(staged, {}, {}, part, [])
        writer = ChunkWriter(t.ctx, t.key, t.meta)
        writer.staged = staged
        session = writer.session = Session(0, pos)
        cut = writer.cut(final=True)
        out.written.extend(cut.chunks)
        await writer.write(cut)
        out.names.extend(session.names)
        out.tiles.update(session.tiles)
        table = np.concatenate([table, np.asarray(session.rows, np.uint64).reshape(-1, 2)])
    return table
