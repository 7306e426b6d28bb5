"""Cutting staged samples into chunk objects and writing them.

Chunk objects are never modified in place. Extending the last chunk (the "tail") writes a
new object under a new id; the old one becomes obsolete and is deleted only after the
encoders that stop naming it are stored. A write session collects every chunk written since
the last flush: the rows it adds to the chunk-id table and the keys to remove if the batch
is abandoned. In-place updates and pops follow the same rule: new objects, old ones obsolete.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _native
from ..format import keys
from ..format.htypes import (
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_TILING_THRESHOLD,
    IMAGE_COMPRESSIONS,
    htype_of,
)
from ..format.keys import FORMAT_VERSION
from . import tiles as tiling
from .assemble import from_canvas
from .canvas import image_chunk
from .chunks import build_tile_chunk, rle_byte_positions, rle_shapes
from .context import TensorContext
from .fetch import ChunkFetcher
from .image_cuts import START_RATIO, ImageCuts
from .samples import COMPRESSION_RATIO, encode, raw_bytes
from .staging import ByteBuffer, Staged

IMAGE = IMAGE_COMPRESSIONS  # chunk compressions that encode a chunk as one image


@dataclass
class Cut:
    """Chunk objects cut from staged samples; ``buffer`` backs their parts until written."""

    chunks: dict[str, list[Any]]
    buffer: np.ndarray | None


@dataclass
class Tail:
    """The last, not yet full chunk, kept in memory so the next flush can extend it."""

    row: int
    key: str
    data: bytes
    sizes: list[int]
    shapes: list[tuple[int, ...]]
    ratio: float = START_RATIO  # png/jpeg: the chunk's compression estimate (image_cuts)


@dataclass
class Session:
    """Chunks written since the last flush but not yet named by the stored encoders."""

    start_row: int  # first row of the chunk-id table these rows replace
    base_index: int  # global index of staged[0]
    rows: list[tuple[int, int]] = field(default_factory=list)  # (chunk id, last index)
    keys: list[str] = field(default_factory=list)  # written chunk objects, for rollback
    names: list[str] = field(default_factory=list)
    tiles: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    obsolete: list[str] = field(default_factory=list)  # replaced chunk, deleted after commit


def join(parts: list[Any]) -> Any:
    """One buffer for a chunk object (a copy only when it has a header and a body)."""
    return parts[0] if len(parts) == 1 else b"".join(parts)


# Chunk ids come from a generator of our own, seeded from the OS once per process (and again
# in a forked child, which must not repeat its parent's ids): ``os.urandom`` per id lets go
# of the GIL, and taking it back from busy worker threads cost the I/O loop about a
# millisecond per chunk during a flush. A user seeding ``random`` cannot make them repeat.
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_chunk_id() -> int:
    # deeplake uses uuid4().int >> 64; any random non-zero 64-bit id works.
    while True:
        cid = _ids.getrandbits(64)
        if cid:
            return cid


class ChunkWriter:
    """The write side of one tensor: staged samples, the open session, the cached tail."""

    def __init__(self, ctx: TensorContext, tensor_key: str, meta: dict[str, Any]) -> None:
        self.ctx = ctx
        self.tensor_key = tensor_key
        self.meta = meta
        self.staged = Staged()
        self.session: Session | None = None
        self.tail: Tail | None = None  # what the last flush left in the last chunk
        self.last_regular: Tail | None = None  # set by a final cut: the next tail
        # Updates or pops are staged: the last chunk may be rewritten by them, so appends
        # start a new chunk instead of taking it over.
        self.hold_tail = False
        self._spares: list[np.ndarray] = []  # staging buffers free for reuse within a batch

    @property
    def dirty(self) -> bool:
        return bool(len(self.staged)) or self.session is not None

    @property
    def staged_bytes(self) -> int:
        return len(self.staged.data)

    def reset(self) -> None:
        """Forget everything since the last flush (written chunks are the caller's to remove)."""
        self.staged = Staged()
        self.session = None
        self.tail = None
        self.last_regular = None
        self.hold_tail = False
        self._spares.clear()

    def pending_keys(self) -> list[str]:
        return list(self.session.keys) if self.session else []

    async def _load_tail(
        self, fetch: ChunkFetcher, ids: np.ndarray, tiles: dict[int, Any]
    ) -> Tail | None:
        """The last chunk, if this commit owns it and it can take more samples."""
        if self.hold_tail:
            return None
        if self.tail is not None or not len(ids):
            return self.tail
        row = len(ids) - 1
        last = int(ids[row, 1])
        if last in tiles:
            return None
        key = await fetch.key(int(ids[row, 0]))
        if not self.ctx.owns(key):
            return None  # owned by an older commit: leave it alone, start a new chunk
        chunk = await fetch.by_key(key)
        first = int(ids[row - 1, 1]) + 1 if row else 0
        count = min(int(chunk.header.num_samples), last - first + 1)
        loc = np.arange(count, dtype=np.int64)
        shapes = [tuple(s) for s in _native.sample_shapes(chunk.header.shapes, loc).tolist()]
        if chunk.canvas is not None:  # png/jpeg: the samples, off the chunk's image
            dtype = np.dtype(self.meta.get("dtype") or "uint8")
            arrays = from_canvas(np.zeros(count, np.int64), loc, {0: chunk}, dtype)
            data = b"".join(bytes(raw_bytes(a)) for a in arrays)
            return Tail(row, key, data, [a.nbytes for a in arrays], shapes)
        ranges = _native.sample_ranges(chunk.header.byte_positions, loc)
        if count and not (ranges[1:, 0] == ranges[:-1, 1]).all():
            return None  # samples not packed back to back: start a new chunk instead
        lo = int(ranges[0, 0]) if count else 0
        hi = int(ranges[-1, 1]) if count else 0
        data = bytes(memoryview(chunk.buffer)[chunk.base + lo : chunk.base + hi])
        return Tail(row, key, data, (ranges[:, 1] - ranges[:, 0]).tolist(), shapes)

    async def begin(
        self, fetch: ChunkFetcher, ids: np.ndarray, tiles: dict[int, Any], length: int
    ) -> Session:
        """Start a write session: the last chunk, if it has room, is rewritten with the new
        samples under a new name."""
        if self.session is not None:
            return self.session
        committed = length - len(self.staged)
        tail = await self._load_tail(fetch, ids, tiles) if len(self.staged) else None
        if tail is None:
            self.session = Session(len(ids), committed)
            return self.session
        staged = self.staged
        merged = ByteBuffer()
        merged.append(tail.data)
        merged.append(staged.data.view())
        staged.data = merged
        staged.sizes[0:0] = tail.sizes
        staged.shapes[0:0] = tail.shapes
        staged.tiled = {k + len(tail.shapes): v for k, v in staged.tiled.items()}
        staged.calls = [c + len(tail.shapes) for c in staged.calls or ()]
        staged.settled, staged.ratio = len(tail.shapes), tail.ratio
        self.session = Session(tail.row, committed - len(tail.shapes), obsolete=[tail.key])
        self.tail = None
        return self.session

    def _limits(self) -> tuple[int, int, float]:
        max_chunk = int(self.meta.get("max_chunk_size") or DEFAULT_MAX_CHUNK_SIZE)
        threshold = self.meta.get("tiling_threshold")
        ratio = COMPRESSION_RATIO if self.meta.get("chunk_compression") else 1.0
        return (
            max_chunk // 2,
            int(DEFAULT_TILING_THRESHOLD if threshold is None else threshold),
            ratio,
        )

    def _new_key(self, session: Session, last_index: int) -> str:
        cid = new_chunk_id()
        name = keys.chunk_name(cid)
        key = keys.chunk_key(self.ctx.commit_id, self.tensor_key, name)
        session.rows.append((cid, last_index))
        session.names.append(name)
        session.keys.append(key)
        return key

    def cut(self, final: bool) -> Cut:
        """Cut staged samples into chunk objects: all full ones, and the rest when ``final``.

        No I/O (a session must be begun). The parts may be views of the staged buffer, which
        is handed over whole: the staged samples left over are copied to a fresh buffer, so
        later appends never touch memory a write in flight still reads.
        """
        session = self.session
        assert session is not None, "begin() first"
        staged = self.staged
        min_chunk, threshold, ratio = self._limits()
        cc = self.meta.get("chunk_compression")
        sc = self.meta.get("sample_compression")
        out: dict[str, list[Any]] = {}
        view = staged.data.view()
        first = first_off = cur = off = 0  # the chunk being filled starts at sample `first`
        last_regular: tuple[str, int, int, int, int] | None = None
        images = ImageCuts(staged, view, self.meta, min_chunk) if cc in IMAGE else None

        def close(end: int, end_off: int) -> None:
            nonlocal last_regular
            if end == first:
                return
            key = self._new_key(session, session.base_index + end - 1)
            shapes = rle_shapes(np.asarray(staged.shapes[first:end], dtype=np.int64))
            bps = rle_byte_positions(np.asarray(staged.sizes[first:end], dtype=np.int64))
            body = view[first_off:end_off]
            if cc in IMAGE:  # the samples on one canvas, encoded as one image
                sizes, shapes_ = staged.sizes[first:end], staged.shapes[first:end]
                out[key] = [image_chunk(body, sizes, shapes_, self.meta)]
            elif cc == "lz4":
                data = _native.lz4_compress(body)
                out[key] = [_native.serialize_chunk(FORMAT_VERSION, shapes, bps, data)]
            else:
                out[key] = [_native.serialize_chunk(FORMAT_VERSION, shapes, bps, b""), body]
            last_regular = (key, first, end, first_off, end_off)

        for i, size in enumerate(staged.sizes):
            arr = staged.tiled.get(i)
            if arr is not None:
                close(i, off)
                last_regular = None
                g = session.base_index + i
                tshape = self._tile_shape(arr, threshold)
                codec = sc or cc
                for piece in tiling.split(arr, tshape):
                    data = encode(piece, codec, self._name, g) if codec else piece.tobytes()
                    out[self._new_key(session, g)] = [build_tile_chunk(data, piece.shape)]
                session.tiles[g] = (tuple(arr.shape), tshape)
                first, first_off, cur = i + 1, off + size, 0
                if images is not None:
                    images.restart(first, first_off)
                off += size
                continue
            if images is not None:
                if images.starts_chunk(i, off):
                    close(i, off)
                    first, first_off, cur = i, off, 0
            elif i > first and (cur + size) * ratio > min_chunk:
                close(i, off)
                first, first_off, cur = i, off, 0
            cur += size
            off += size
        if final:
            close(len(staged.sizes), off)
            first, first_off = len(staged.sizes), off
            self.last_regular = None
            if last_regular is not None:
                key, a, b, lo, hi = last_regular
                # png/jpeg: deeplake goes on filling the last chunk while its rule allows
                if images is not None or (hi - lo) * ratio < min_chunk:
                    self.last_regular = Tail(
                        session.start_row + len(session.rows) - 1,
                        key,
                        bytes(view[lo:hi]),
                        staged.sizes[a:b],
                        staged.shapes[a:b],
                        images.ratio if images is not None else START_RATIO,
                    )
        # Hand the buffer over to the writes; keep what is left in a spare one.
        left = ByteBuffer(self._spares.pop() if self._spares else None)
        left.append(view[first_off:])
        self.staged = Staged(
            left,
            staged.sizes[first:],
            staged.shapes[first:],
            {k - first: v for k, v in staged.tiled.items() if k >= first},
        )
        if images is not None:
            self.staged.calls, self.staged.settled, self.staged.ratio = images.leftover(first)
        session.base_index += first
        return Cut(out, staged.data.arr if out else None)

    @property
    def _name(self) -> str:
        return str(self.meta.get("name") or self.tensor_key)

    def _tile_shape(self, arr: np.ndarray, threshold: int) -> tuple[int, ...]:
        compressed = bool(self.meta.get("sample_compression") or self.meta.get("chunk_compression"))
        return tiling.tile_shape(
            arr.shape,
            arr.nbytes * (COMPRESSION_RATIO if compressed else 1.0),
            threshold,
            keep_last_axis=htype_of(self.meta.get("htype")).tile_keeps_last_axis
            or self.meta.get("sample_compression") is not None,
        )

    async def write(self, cut: Cut) -> None:
        await self.ctx.storage.put_many({k: join(p) for k, p in cut.chunks.items()})
        cut.chunks.clear()
        if cut.buffer is not None and len(self._spares) < 2:
            self._spares.append(cut.buffer)  # written: its memory can stage the next samples
