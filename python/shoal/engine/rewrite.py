"""Rewriting the chunks that hold updated or popped samples.

Chunk objects are never changed in place: every chunk holding a changed sample is rebuilt
(the untouched samples' bytes copied as stored, the new ones as prepared) and cut again into
new chunk objects under new ids, owned by the current commit. The chunk-id table gets the
new rows in place of the old; the old chunks become obsolete only if this commit owns them —
an ancestor commit's chunks stay, as deeplake's copy-on-write leaves them, so reading an
older commit still gives what it held. A tiled sample's tiles are one unit: updating it
replaces all its rows; popping it removes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _native
from ..errors import ShoalError
from . import assemble
from .chunk_writer import ChunkWriter, Session, join
from .staging import Staged

if TYPE_CHECKING:
    from .tensor import TensorEngine

#: A changed sample: (is an array to tile, stored bytes or array, shape); None: popped.
Change = tuple[bool, Any, tuple[int, ...]] | None
Tiles = dict[int, tuple[tuple[int, ...], tuple[int, ...]]]


@dataclass
class Rewrite:
    ids: np.ndarray  # the new chunk-id table (the rows given, rewritten)
    tiles: Tiles  # the tile encoder for those rows
    chunks: dict[str, Any] = field(default_factory=dict)  # new chunk objects
    names: list[str] = field(default_factory=list)  # their names (owned by this commit)
    obsolete: list[str] = field(default_factory=list)  # replaced chunks this commit owns


def _segments(ids: np.ndarray, tiles: Tiles) -> list[tuple[int, int, int, int]]:
    """``(first_row, end_row, first_index, last_index)`` per chunk, a tiled sample's rows
    being one segment."""
    out = []
    lasts = ids[:, 1].tolist()
    r, n, first = 0, len(lasts), 0
    while r < n:
        last = int(lasts[r])
        end = r + 1
        if last in tiles:
            while end < n and int(lasts[end]) == last:
                end += 1
        out.append((r, end, first, last))
        first = last + 1
        r = end
    return out


async def _stored_samples(
    t: TensorEngine, chunk_id: int, count: int
) -> tuple[list[bytes], list[tuple[int, ...]]]:
    """The stored bytes and shapes of every sample of a (non-tile) chunk."""
    if t.meta.get("chunk_compression") in ("png", "jpeg"):
        raise ShoalError(
            f"tensor {t.name!r} uses {t.meta['chunk_compression']} chunk compression, whose "
            "samples shoal cannot update or pop yet; use deeplake for this tensor"
        )
    chunk = await t.fetch.chunk(chunk_id)
    loc = np.arange(count, dtype=np.int64)
    shapes = [tuple(int(d) for d in s) for s in _native.sample_shapes(chunk.header.shapes, loc)]
    blobs = assemble.blobs(np.zeros(count, dtype=np.int64), loc, {0: chunk}, count)
    return blobs, shapes


async def rewrite(
    t: TensorEngine, ids: np.ndarray, tiles: Tiles, changes: dict[int, Change]
) -> Rewrite:
    """The chunk table ``ids`` (and ``tiles``) with ``changes`` applied: new values, or
    removals (None). Indices are positions before any removal."""
    segments = _segments(ids, tiles)
    lasts = np.asarray([s[3] for s in segments], dtype=np.int64)
    touched = sorted({int(np.searchsorted(lasts, i, side="left")) for i in changes})
    touched_set = set(touched)
    out = Rewrite(np.zeros((0, 2), dtype=np.uint64), {})
    rows: list[np.ndarray] = []
    pos = 0  # index, in the new numbering, of the segment's first sample
    for s, (r0, r1, first, last) in enumerate(segments):
        count = last - first + 1
        if s not in touched_set:
            part = ids[r0:r1].copy()
            part[:, 1] = part[:, 1].astype(np.int64) - first + pos
            rows.append(part)
            if last in tiles:
                out.tiles[pos] = tiles[last]
            pos += count
            continue
        staged = Staged()
        if last in tiles:
            blobs: list[bytes] = [b""]
            shapes: list[tuple[int, ...]] = [tiles[last][0]]
        else:
            blobs, shapes = await _stored_samples(t, int(ids[r0, 0]), count)
        kept = 0
        for j in range(count):
            g = first + j
            if g in changes:
                change = changes[g]
                if change is None:
                    continue
                is_array, data, shape = change
                if is_array:
                    staged.tiled[kept] = data
                    staged.sizes.append(0)
                else:
                    staged.data.append(data)
                    staged.sizes.append(len(data))
                staged.shapes.append(tuple(shape))
            else:
                if last in tiles:  # an untouched tiled sample is never in a touched segment
                    raise AssertionError("tiled sample rewritten without a change")
                staged.data.append(blobs[j])
                staged.sizes.append(len(blobs[j]))
                staged.shapes.append(shapes[j])
            kept += 1
        for r in range(r0, r1):
            key = await t.fetch.key(int(ids[r, 0]))
            if t.ctx.owns(key):
                out.obsolete.append(key)
        if kept:
            writer = ChunkWriter(t.ctx, t.key, t.meta)
            writer.staged = staged
            session = writer.session = Session(0, pos)
            cut = writer.cut(final=True)
            out.chunks.update({k: join(p) for k, p in cut.chunks.items()})
            out.names.extend(session.names)
            out.tiles.update(session.tiles)
            rows.append(np.asarray(session.rows, dtype=np.uint64).reshape(-1, 2))
        pos += kept
    out.ids = np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.uint64)
    return out
