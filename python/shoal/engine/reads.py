"""Reading samples of one tensor: plan the chunks, fetch them concurrently, assemble.

Samples appended but not flushed yet (inside ``with ds:``) are read from memory and from the
chunks the batch already wrote, without publishing anything: other readers keep seeing the
last flush until the batch ends.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _native
from .._index import distinct
from ..errors import ShoalError
from ..format.htypes import IMAGE_COMPRESSIONS
from . import assemble
from .fetch import Fetched
from .samples import decode

if TYPE_CHECKING:
    from .tensor import TensorEngine


def _check_readable(t: TensorEngine) -> None:
    if t.meta.get("is_link"):  # its chunks hold URLs: reads go through links.engine
        raise ShoalError(f"tensor {t.name!r} is a link tensor; read it through its linked files")


def _locate(t: TensorEngine, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _native.locate_samples(np.ascontiguousarray(t.chunk_ids[:, 1]), idx.astype(np.int64))


async def _fetch(
    t: TensorEngine, idx: np.ndarray, ranged: bool
) -> tuple[np.ndarray, np.ndarray, dict[int, Fetched]]:
    """Locate samples and fetch (or find cached) the chunks, or chunk ranges, they need."""
    rows, local = _locate(t, idx)
    uniq = distinct(rows)
    ids = t.chunk_ids
    fetched = await asyncio.gather(
        *(
            t.fetch.partial(int(ids[r, 0]), local[rows == r])
            if ranged
            else t.fetch.chunk(int(ids[r, 0]))
            for r in uniq
        )
    )
    if not ranged:
        loop = asyncio.get_running_loop()
        t.prefetch.after_read(idx, rows, len(ids), t.load_row, loop, same_thread=True)
    return rows, local, dict(zip(uniq.tolist(), fetched, strict=True))


def _split(t: TensorEngine, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``idx`` as (positions read from stored chunks, positions pending in this batch)."""
    stored = t.readable_stored
    updates = t.edits.updates
    if idx.size == 0 or (int(idx.max()) < stored and not updates):
        return np.arange(idx.size), np.zeros(0, dtype=np.int64)
    pending = idx >= stored
    if updates:
        pending |= np.isin(idx, np.fromiter(updates, np.int64, len(updates)))
    return np.flatnonzero(~pending), np.flatnonzero(pending)


async def read_stacked(t: TensorEngine, idx: np.ndarray) -> np.ndarray:
    """Samples at ``idx`` as one ``(n, *shape)`` array, filled in place by one native call.

    Raises ``DynamicShapeError`` when the samples' shapes differ."""
    await t.ensure_full()
    _check_readable(t)
    t.check_indices(idx)
    dtype = t.dtype or np.dtype(np.uint8)
    _, pending = _split(t, idx)
    if (
        idx.size == 0
        or pending.size
        or (t.tiles and any(int(i) in t.tiles for i in idx))
        or t.meta.get("chunk_compression") in IMAGE_COMPRESSIONS
    ):
        return assemble.stack(await read_arrays(t, idx), t.meta, dtype, idx.size)
    ranged = t.ctx.remote and not t.meta.get("chunk_compression")
    rows, local, by_row = await _fetch(t, idx, ranged)
    flat = await _assemble_flat(t, rows, local, by_row, dtype)
    return assemble.uniform(flat, idx.size, t.name)


async def _assemble_flat(
    t: TensorEngine,
    rows: np.ndarray,
    local: np.ndarray,
    by_row: dict[int, Fetched],
    dtype: np.dtype,
) -> assemble.Flat:
    args = (t.meta, t.fixed_shape, rows, local, by_row, dtype)
    if t.meta.get("sample_compression") is None:
        return assemble.assemble_flat(*args)
    done: assemble.Flat = await asyncio.get_running_loop().run_in_executor(
        t.cpu_pool(), assemble.assemble_flat, *args
    )
    return done


def read_stacked_cached(
    t: TensorEngine, idx: np.ndarray, loop: asyncio.AbstractEventLoop
) -> np.ndarray | None:
    """:func:`read_stacked` without leaving the caller's thread, when every chunk it needs is
    already decoded in the cache (None otherwise). Saves sync callers the hop to the I/O
    loop, which costs more than copying a small batch; the next chunk is prefetched on
    ``loop``."""
    meta = t.meta
    if (
        not t.full
        or idx.size == 0
        or t.tiles
        or meta.get("chunk_compression") is not None
        or meta.get("sample_compression") is not None
        or meta.get("is_link")
        or meta.get("is_sequence")
        or not t.fetch.owners_known
        or t.edits
        or idx.min() < 0
        or idx.max() >= min(t.length, t.readable_stored)
    ):
        return None
    ids = t.chunk_ids
    rows, local = _locate(t, idx)
    by_row: dict[int, Fetched] = {}
    for r in distinct(rows).tolist():
        hit = t.fetch.cached(int(ids[r, 0]))
        if hit is None:
            return None
        by_row[r] = hit
    dtype = t.dtype or np.dtype(np.uint8)
    flat = assemble.assemble_flat(meta, t.fixed_shape, rows, local, by_row, dtype)
    shapes = flat[3]
    if not (shapes == shapes[0]).all():
        return None  # the async path raises the precise error
    t.prefetch.after_read(idx, rows, len(ids), t.load_row, loop, same_thread=False)
    return flat[0].reshape((idx.size, *shapes[0].tolist()))


async def read_arrays(t: TensorEngine, idx: np.ndarray) -> list[np.ndarray]:
    """Samples at ``idx`` as a list of arrays (views into one output buffer)."""
    await t.ensure_full()
    _check_readable(t)
    t.check_indices(idx)
    dtype = t.dtype or np.dtype(np.uint8)
    n = idx.size
    results: list[Any] = [None] * n
    stored_pos, pending_pos = _split(t, idx)
    if pending_pos.size:
        for p, v in zip(pending_pos.tolist(), await _pending(t, idx[pending_pos]), strict=True):
            results[p] = _to_array(t, v, dtype)
    stored = idx[stored_pos]
    tiled = np.fromiter((int(i) in t.tiles for i in stored), bool, stored.size)
    plain_pos = stored_pos[~tiled]
    if plain_pos.size:
        plain = idx[plain_pos]
        rows, local, by_row = await _fetch(t, plain, t.ctx.remote and not _cc(t))
        if _cc(t) in IMAGE_COMPRESSIONS:
            arrays = assemble.from_canvas(rows, local, by_row, dtype)  # type: ignore[arg-type]
        else:
            flat = await _assemble_flat(t, rows, local, by_row, dtype)
            arrays = assemble.split_flat(flat, dtype)
        for p, a in zip(plain_pos.tolist(), arrays, strict=True):
            results[p] = a
    for p in stored_pos[tiled].tolist():
        results[p] = await _read_tiled(t, int(idx[p]), dtype)
    return results


def _cc(t: TensorEngine) -> str | None:
    return t.meta.get("chunk_compression")


async def _read_tiled(t: TensorEngine, index: int, dtype: np.dtype) -> np.ndarray:
    shape, tile = t.tiles[index]
    ids = t.chunk_ids
    first_row = int(np.searchsorted(ids[:, 1], index, side="left"))
    end_row = int(np.searchsorted(ids[:, 1], index, side="right"))
    chunks = await asyncio.gather(
        *(t.fetch.chunk(int(ids[r, 0])) for r in range(first_row, end_row))
    )
    return assemble.untile(t.meta, index, shape, tile, list(chunks), dtype)


async def read_blobs(t: TensorEngine, idx: np.ndarray) -> list[bytes]:
    """Raw stored bytes of text-like samples."""
    await t.ensure_full()
    t.check_indices(idx)
    out: list[bytes] = [b""] * idx.size
    stored_pos, pending_pos = _split(t, idx)
    if pending_pos.size:
        for p, v in zip(pending_pos.tolist(), await _pending(t, idx[pending_pos]), strict=True):
            out[p] = bytes(v[1])
    if stored_pos.size:
        stored = idx[stored_pos]
        rows, local = _locate(t, stored)
        uniq = distinct(rows)
        ids = t.chunk_ids
        chunks = await asyncio.gather(*(t.fetch.chunk(int(ids[r, 0])) for r in uniq))
        got = assemble.blobs(
            rows, local, dict(zip(uniq.tolist(), chunks, strict=True)), len(stored)
        )
        for p, b in zip(stored_pos.tolist(), got, strict=True):
            out[p] = b
    return assemble.unpack_blobs(t.meta, out, t.name)


# -- samples of the open batch ------------------------------------------------------------
Pending = tuple[bool, Any, tuple[int, ...]]  # (is an array already, stored bytes or array, shape)


async def _pending(t: TensorEngine, idx: np.ndarray) -> list[Pending]:
    """Samples appended since the last flush, from memory or from chunks the batch wrote."""
    writer = t.writer
    staged, session = writer.staged, writer.session
    staged_base = t.length - len(staged)
    offsets = staged.offsets()
    out: list[Pending] = []
    updates = t.edits.updates
    for i in idx.tolist():
        updated = updates.get(i)
        if updated is not None:
            out.append(updated)
            continue
        if i >= staged_base:
            j = i - staged_base
            shape = tuple(staged.shapes[j])
            if j in staged.tiled:
                out.append((True, staged.tiled[j], shape))
            else:
                out.append((False, staged.data.arr[offsets[j] : offsets[j + 1]], shape))
            continue
        assert session is not None  # samples between stored and staged were written
        out.append(await _from_session(t, i))
    return out


async def _from_session(t: TensorEngine, index: int) -> Pending:
    session = t.writer.session
    assert session is not None
    dtype = t.dtype or np.dtype(np.uint8)
    lasts = np.asarray([last for _, last in session.rows], dtype=np.int64)
    r = int(np.searchsorted(lasts, index, side="left"))
    if index in session.tiles:
        shape, tile = session.tiles[index]
        end = int(np.searchsorted(lasts, index, side="right"))
        chunks = [await t.fetch.by_key(k) for k in session.keys[r:end]]
        return True, assemble.untile(t.meta, index, shape, tile, chunks, dtype), shape
    first = int(lasts[r - 1]) + 1 if r else t.readable_stored
    chunk = await t.fetch.by_key(session.keys[r])
    loc = np.asarray([index - first], dtype=np.int64)
    shape = tuple(int(d) for d in _native.sample_shapes(chunk.header.shapes, loc)[0])
    one = np.zeros(1, np.int64)
    if _cc(t) in IMAGE_COMPRESSIONS:
        return True, assemble.from_canvas(one, loc, {0: chunk}, dtype)[0], shape
    return False, assemble.blobs(one, loc, {0: chunk}, 1)[0], shape


def _to_array(t: TensorEngine, value: Pending, dtype: np.dtype) -> np.ndarray:
    is_array, data, shape = value
    if is_array:
        return np.array(data, copy=True)
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    sc = t.meta.get("sample_compression")
    if sc in IMAGE_COMPRESSIONS:
        return decode(memoryview(data), sc).reshape(shape)
    raw = _native.lz4_decompress(memoryview(data)) if sc == "lz4" else bytes(data)
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
