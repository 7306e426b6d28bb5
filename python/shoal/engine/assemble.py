"""Turning fetched chunks into output arrays: one native call fills one buffer.

Pure CPU work with no I/O: given where each sample is (``rows``: which fetched chunk,
``local``: its index in that chunk), build the plan the native ``assemble`` call executes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _native
from ..errors import CodecError, CorruptDataError, DynamicShapeError
from ..format.htypes import IMAGE_COMPRESSIONS, htype_of
from ..storage._buffers import BUFFERS
from . import tiles as tiling
from .chunks import DecodedChunk
from .fetch import Fetched
from .samples import decode

Flat = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # out, offsets, sizes, shapes


def fixed_shape(meta: dict[str, Any], text_like: bool) -> bool:
    mn, mx = meta.get("min_shape"), meta.get("max_shape")
    return bool(mn) and mn == mx and not text_like


def assemble_flat(
    meta: dict[str, Any],
    fixed: bool,
    rows: np.ndarray,
    local: np.ndarray,
    by_row: dict[int, Fetched],
    dtype: np.dtype,
) -> Flat:
    """Every sample's bytes, back to back in one array: ``(out, offsets, sizes, shapes)``."""
    name = meta.get("name")
    n = rows.size
    sc = meta.get("sample_compression")
    ndim = len(meta.get("min_shape") or [1])
    shapes = np.empty((n, ndim), dtype=np.int64)
    plan = np.empty((n, 5), dtype=np.int64)
    sources: list[Any] = []
    for row, chunk in by_row.items():
        sel = np.flatnonzero(rows == row)
        loc = local[sel]
        if fixed:
            shapes[sel] = meta["min_shape"]
        else:
            shapes[sel] = _native.sample_shapes(chunk.header.shapes, loc)
        if fixed and sc is None and isinstance(chunk, DecodedChunk):
            size = int(np.prod(meta["min_shape"])) * dtype.itemsize
            starts = chunk.base + loc * size
            ends = starts + size
        else:
            ranges = _native.sample_ranges(chunk.header.byte_positions, loc)
            starts = ranges[:, 0] + chunk.base
            ends = ranges[:, 1] + chunk.base
        if isinstance(chunk, DecodedChunk):
            plan[sel, 0] = len(sources)
            plan[sel, 1] = starts
            plan[sel, 2] = ends
            sources.append(chunk.buffer)
        else:
            piece = np.searchsorted(chunk.starts, starts, side="right") - 1
            plan[sel, 0] = len(sources) + piece
            plan[sel, 1] = starts - chunk.starts[piece]
            plan[sel, 2] = ends - chunk.starts[piece]
            sources.extend(chunk.pieces)
    sizes = np.prod(shapes, axis=1) * dtype.itemsize
    offsets = np.zeros(n, dtype=np.int64)
    if n > 1:
        np.cumsum(sizes[:-1], out=offsets[1:])
    plan[:, 3] = offsets
    plan[:, 4] = sizes
    total = int(sizes.sum())
    # Recycled memory when it is free (fresh pages cost a fault and a clearing each).
    if dtype.kind in "biufc":
        out = BUFFERS.take(total).view(dtype)
    else:
        out = np.empty(total // dtype.itemsize if dtype.itemsize else total, dtype=dtype)
    codec = sc or "none"
    live = plan[plan[:, 4] > 0] if codec != "none" else plan
    if codec == "none" and np.any(plan[:, 2] - plan[:, 1] != plan[:, 4]):
        raise CorruptDataError(
            f"tensor {name!r}: a sample's stored size does not match its shape; the chunk is "
            "damaged"
        )
    # Raw copies run where they are asked for (a hop to a pool thread costs more than a
    # memory-speed copy); decoding is already on a pool thread, split across two.
    threads = 2 if codec in IMAGE_COMPRESSIONS and len(live) > 1 else 1
    if live.size:
        lengths = np.fromiter((memoryview(s).nbytes for s in sources), np.int64, len(sources))
        if np.any(live[:, 2] > lengths[live[:, 0]]):  # a chunk cut short in storage
            raise CorruptDataError(
                f"tensor {name!r}: a sample's bytes run past the end of its chunk; the chunk "
                "is truncated"
            )
    _native.assemble(out, sources, np.ascontiguousarray(live), codec, threads)
    return out, offsets, sizes, shapes


def split_flat(flat: Flat, dtype: np.dtype) -> list[np.ndarray]:
    """One array per sample, as views into the assembled buffer."""
    out, offsets, sizes, shapes = flat
    raw = out.view(np.uint8)
    return [
        raw[o : o + s].view(dtype).reshape(shape)
        for o, s, shape in zip(offsets.tolist(), sizes.tolist(), shapes.tolist(), strict=True)
    ]


def uniform(flat: Flat, n: int, name: str) -> np.ndarray:
    """The assembled samples as one ``(n, *shape)`` array; they must share a shape."""
    out, _, _, shapes = flat
    first = shapes[0]
    if not (shapes == first).all():
        other = shapes[np.flatnonzero((shapes != first).any(axis=1))[0]]
        raise DynamicShapeError(
            f"tensor {name!r}: the samples asked for have different shapes (e.g. "
            f"{tuple(first.tolist())} and {tuple(other.tolist())}); use .numpy(aslist=True)"
        )
    return out.reshape((n, *first.tolist()))


def stack(arrays: list[np.ndarray], meta: dict[str, Any], dtype: np.dtype, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros((0, *(meta.get("max_shape") or [])), dtype=dtype)
    return stack_equal(arrays, meta.get("name"), "samples")


def stack_equal(arrays: list[np.ndarray], name: Any, what: str) -> np.ndarray:
    """``arrays`` (at least one) stacked; a clear error when their shapes differ."""
    first = arrays[0].shape
    if any(a.shape != first for a in arrays):
        other = next(a.shape for a in arrays if a.shape != first)
        raise DynamicShapeError(
            f"tensor {name!r}: the {what} asked for have different shapes (e.g. {first} and "
            f"{other}); use .numpy(aslist=True)"
        )
    return np.stack(arrays)


def from_canvas(
    rows: np.ndarray, local: np.ndarray, by_row: dict[int, DecodedChunk], dtype: np.dtype
) -> list[np.ndarray]:
    """Image chunk compression: all samples of a chunk pasted left to right in one image."""
    out: list[np.ndarray] = []
    for row, loc in zip(rows.tolist(), local.tolist(), strict=True):
        chunk = by_row[row]
        count = int(chunk.header.num_samples)
        all_shapes = _native.sample_shapes(chunk.header.shapes, np.arange(count, dtype=np.int64))
        x = int(sum(int(s[1]) for s in all_shapes[:loc] if s[0] and s[1]))
        h, w = int(all_shapes[loc][0]), int(all_shapes[loc][1])
        canvas = chunk.canvas
        assert canvas is not None
        piece = canvas[:h, x : x + w].astype(dtype, copy=True)
        out.append(piece.reshape(tuple(int(d) for d in all_shapes[loc])))
    return out


def untile(
    meta: dict[str, Any],
    index: int,
    shape: tuple[int, ...],
    tile: tuple[int, ...],
    chunks: list[DecodedChunk],
    dtype: np.dtype,
) -> np.ndarray:
    """A tiled sample from its tile chunks, in tile order."""
    name = meta.get("name")
    out = np.empty(shape, dtype=dtype)
    slices = list(tiling.tile_slices(tuple(shape), tuple(tile)))
    if len(slices) != len(chunks):
        raise CorruptDataError(
            f"tensor {name!r}: sample {index} should have {len(slices)} tiles but the chunk "
            f"index lists {len(chunks)}; the dataset is damaged"
        )
    sc = meta.get("sample_compression")
    for sl, chunk in zip(slices, chunks, strict=True):
        target = out[sl]
        data = memoryview(chunk.buffer)[chunk.base :]
        if sc in IMAGE_COMPRESSIONS:
            piece = decode(data, sc)
        elif sc == "lz4":
            piece = np.frombuffer(_native.lz4_decompress(data), dtype=dtype)
        else:
            piece = np.frombuffer(data, dtype=dtype, count=target.size)
        if piece.size != target.size:
            raise CorruptDataError(
                f"tensor {name!r}: a tile of sample {index} has {piece.size} values, expected "
                f"{target.size}; the dataset is damaged"
            )
        target[...] = piece.reshape(target.shape)
    return out


def unpack_blobs(meta: dict[str, Any], stored: list[bytes], tensor: str) -> list[bytes]:
    """The serialised values of object samples (text, json, lists) from their stored bytes:
    with ``sample_compression="lz4"`` each is an lz4 block, as deeplake writes it (a link
    tensor's sample compression is its files', not its stored paths')."""
    if meta.get("sample_compression") != "lz4" or meta.get("is_link"):
        return stored
    if not htype_of(meta.get("htype")).is_object:
        return stored  # an array sample's stored bytes (its lz4 block), as tobytes() gives
    try:
        return [bytes(_native.lz4_decompress(b)) if len(b) else b"" for b in stored]
    except CodecError:
        raise CorruptDataError(
            f"tensor {tensor!r}: a stored sample is not lz4, as its sample_compression says; "
            "the chunk is damaged"
        ) from None


def blobs(
    rows: np.ndarray, local: np.ndarray, by_row: dict[int, DecodedChunk], n: int
) -> list[bytes]:
    """Raw stored bytes of samples (text-like htypes)."""
    out: list[bytes] = [b""] * n
    for row, chunk in by_row.items():
        sel = np.flatnonzero(rows == row)
        ranges = _native.sample_ranges(chunk.header.byte_positions, local[sel])
        buf = memoryview(chunk.buffer)
        for p, (s, e) in zip(sel.tolist(), ranges.tolist(), strict=True):
            out[p] = bytes(buf[chunk.base + s : chunk.base + e])
    return out
