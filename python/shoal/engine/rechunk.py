"""``ds.rechunk()``: a tensor's chunks cut again to the sizes appends give them.

Many updates or pops leave chunks of uneven sizes; rechunking streams the samples of each run
of regular chunks (a tiled sample stays as it is) through a chunk writer, writing each full
chunk as it is cut, so memory stays at about one chunk. Sample indices do not change; the
commit diff neither (the data is the same). Old chunks this commit owns become obsolete,
ancestors' stay — as with updates.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np

from .chunk_writer import ChunkWriter, Session
from .rewrite import Rewrite, Tiles, _remove, _segments, _stored_samples

if TYPE_CHECKING:
    from .tensor import TensorEngine


async def rechunk(t: TensorEngine, ids: np.ndarray, tiles: Tiles) -> Rewrite:
    out = Rewrite(np.zeros((0, 2), dtype=np.uint64), dict(tiles))
    rows: list[np.ndarray] = []
    writer: ChunkWriter | None = None

    async def finish() -> None:
        nonlocal writer
        if writer is None:
            return
        await _cut(writer, out, final=True)
        assert writer.session is not None
        rows.append(np.asarray(writer.session.rows, dtype=np.uint64).reshape(-1, 2))
        out.names.extend(writer.session.names)
        writer = None

    try:
        for r0, r1, first, last in _segments(ids, tiles):
            if last in tiles:
                await finish()
                rows.append(ids[r0:r1])
                continue
            if writer is None:
                writer = ChunkWriter(t.ctx, t.key, t.meta)
                writer.session = Session(0, first)
            blobs, shapes = await _stored_samples(t, int(ids[r0, 0]), last - first + 1)
            for blob, shape in zip(blobs, shapes, strict=True):
                writer.staged.data.append(blob)
                writer.staged.sizes.append(len(blob))
                writer.staged.shapes.append(shape)
            key = await t.fetch.key(int(ids[r0, 0]))
            if t.ctx.owns(key):
                out.obsolete.append(key)
            await _cut(writer, out, final=False)
        await finish()
    except BaseException:
        await asyncio.shield(_remove(t, out.written))
        raise
    out.ids = np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.uint64)
    return out


async def _cut(writer: ChunkWriter, out: Rewrite, final: bool) -> None:
    cut = writer.cut(final=final)
    out.written.extend(cut.chunks)
    await writer.write(cut)
