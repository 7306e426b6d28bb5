"""One tensor at one commit: its metas and encoders, reads, and staged appends.

Reads: global indices → (chunk, local index) through the chunk-id encoder, chunks fetched
concurrently and decoded once (cached), then one native ``assemble`` call fills the output.

Writes: samples are validated and converted when appended (so a bad sample changes nothing),
staged in memory, and turned into chunks on flush. Chunk objects are never modified in place:
extending the last chunk writes a new object under a new id and the old one is removed only
after the encoders and metas that stop pointing at it are written.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _native
from .._loop import get_loop, in_cpu_pool
from ..errors import (
    CorruptDataError,
    DynamicShapeError,
    NotFoundError,
    SampleError,
    ShoalError,
    TruncatedDataError,
)
from ..format import jsonio, keys
from ..format.htypes import (
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_TILING_THRESHOLD,
    TEXT_LIKE,
    fill_meta_defaults,
)
from ..format.keys import FORMAT_VERSION
from ..format.versions import parse_chunk_set, serialize_chunk_set
from . import tiles as tiling
from .chunks import (
    DecodedChunk,
    build_tile_chunk,
    decode_chunk,
    rle_byte_positions,
    rle_shapes,
)
from .encoders import CommitDiff
from .samples import COMPRESSION_RATIO, Prepared, SampleConverter, decode, encode

if TYPE_CHECKING:
    from .dataset import DatasetEngine

_EMPTY_IDS = np.zeros((0, 2), dtype=np.uint64)


HEADER_GUESS = 4096  # first read of a chunk header; most headers are far smaller
MAX_GAP = 64 * 1024  # neighbouring ranges closer than this are fetched as one


@dataclass
class PartialChunk:
    """Some byte ranges of a chunk: ``pieces[i]`` holds the bytes from ``starts[i]`` on."""

    header: Any
    starts: np.ndarray
    pieces: list[bytes]
    base: int = 0  # byte positions are made absolute with header.data_offset


def coalesce(ranges: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Merge ``(start, end)`` ranges (sorted by start) whose gap is at most ``max_gap``."""
    order = np.argsort(ranges[:, 0], kind="stable")
    out: list[tuple[int, int]] = []
    for start, end in ranges[order].tolist():
        if out and start - out[-1][1] <= max_gap:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


class ByteBuffer:
    """A growable byte buffer over a numpy array.

    Staging copies every appended sample into one of these; chunks are written straight from
    slices of it. Its array can be handed back for reuse once a write is done: fresh memory
    costs a page fault per 4 KiB, which made staging run at under 1 GB/s.
    """

    __slots__ = ("arr", "n")

    def __init__(self, arr: np.ndarray | None = None) -> None:
        self.arr = arr if arr is not None else np.empty(0, dtype=np.uint8)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def append(self, blob: Any) -> None:
        m = len(blob)
        if not m:
            return
        end = self.n + m
        if end > self.arr.size:
            grown = np.empty(max(end, 2 * self.arr.size, 1 << 20), dtype=np.uint8)
            grown[: self.n] = self.arr[: self.n]
            self.arr = grown
        self.arr[self.n : end] = np.frombuffer(blob, dtype=np.uint8)
        self.n = end

    def view(self) -> memoryview:
        return self.arr[: self.n].data


@dataclass
class Staged:
    """Samples appended but not yet in a written chunk, their bytes packed in one buffer."""

    data: ByteBuffer = field(default_factory=ByteBuffer)
    sizes: list[int] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    tiled: dict[int, np.ndarray] = field(default_factory=dict)  # position -> array to tile

    def __len__(self) -> int:
        return len(self.shapes)


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


@dataclass
class FlushPlan:
    """Everything a flush writes for one tensor, computed before anything is written."""

    chunks: dict[str, bytes]  # key -> chunk object
    objects: dict[str, bytes]  # encoders, metas, info: written after every chunk
    meta_key: str
    meta_bytes: bytes
    obsolete: list[str]  # chunk keys to delete once the metas are written
    written: list[str]  # chunk keys written before this flush (drains), for rollback
    apply: Any  # callable that installs the new in-memory state


class TensorEngine:
    def __init__(
        self,
        ds: DatasetEngine,
        key: str,
        meta: dict[str, Any],
        info: dict[str, Any],
        chunk_ids: np.ndarray,
        tile_entries: dict[int, tuple[tuple[int, ...], tuple[int, ...]]],
        commit_diff: CommitDiff | None,
    ) -> None:
        self.ds = ds
        self.key = key
        self.meta = meta
        self.info = info
        self.chunk_ids = chunk_ids
        self.tiles: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = tile_entries
        self.commit_diff = commit_diff
        self.staged = Staged()
        self.info_dirty = False
        self.is_new = False  # created since the last flush: its metas are not stored yet
        self.full = True  # encoders and info loaded (see ensure_full)
        # What storage holds, to restore the in-memory state when a flush fails.
        self._flushed: tuple[str, str] = (json.dumps(meta), json.dumps(info))
        self._tail: Tail | None = None
        self._session: Session | None = None
        self._last_regular: Tail | None = None  # set by a final cut: the new tail
        self._spares: list[np.ndarray] = []  # staging buffers free for reuse within a batch
        self._prefetching: set[int] = set()  # chunk rows being loaded ahead of a scan
        self._prefetch_tasks: set[asyncio.Task[None]] = set()
        self._owners: dict[str, tuple[str, str]] | None = None  # chunk name -> (commit, key)

    # -- properties --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.key)

    @property
    def htype(self) -> str:
        return str(self.meta.get("htype") or "generic")

    @property
    def length(self) -> int:
        return int(self.meta.get("length", 0))

    @property
    def dtype(self) -> np.dtype | None:
        d = self.meta.get("dtype")
        if d in (None, "str", "Any", "List"):
            return None
        return np.dtype(str(d))

    @property
    def fixed_shape(self) -> bool:
        mn, mx = self.meta.get("min_shape"), self.meta.get("max_shape")
        return bool(mn) and mn == mx and self.htype not in TEXT_LIKE

    @property
    def commit_id(self) -> str:
        return self.ds.commit_id

    def _tkey(self, name: str) -> str:
        return keys.tensor_key(self.commit_id, self.key, name)

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    async def load(cls, ds: DatasetEngine, key: str) -> TensorEngine:
        """The tensor's meta only: enough for its length, shape, dtype and htype. Encoders,
        info and commit diff follow on first read or write (:meth:`ensure_full`)."""
        where = f"{ds.url}/{keys.tensor_key(ds.commit_id, key, '')}"
        raw_meta = (
            await ds.storage.get_many([keys.tensor_key(ds.commit_id, key, keys.TENSOR_META)])
        )[0]
        if raw_meta is None:
            raise CorruptDataError(
                f"tensor {key!r} is listed in dataset_meta.json but {where}tensor_meta.json is "
                "missing; the dataset is damaged"
            )
        meta = fill_meta_defaults(jsonio.loads(raw_meta, f"{where}tensor_meta.json"))
        engine = cls(ds, key, meta, {}, _EMPTY_IDS, {}, None)
        engine.full = False
        return engine

    async def ensure_full(self) -> None:
        """Load the chunk index, tile encoder, info and commit diff, once."""
        if self.full:
            return
        ds, key, commit = self.ds, self.key, self.ds.commit_id
        names = [keys.CHUNK_IDS, keys.TILE_ENCODER, keys.TENSOR_INFO, keys.COMMIT_DIFF]
        raw_ids, raw_tiles, raw_info, raw_diff = await ds.storage.get_many(
            [keys.tensor_key(commit, key, n) for n in names]
        )
        if self.full:  # loaded concurrently while we waited
            return
        where = f"{ds.url}/{keys.tensor_key(commit, key, '')}"
        info = jsonio.loads(raw_info, f"{where}tensor_info.json") if raw_info else {}
        ids = _native.parse_chunk_ids(raw_ids)[1] if raw_ids else _EMPTY_IDS
        tile_entries = _native.parse_tile_encoder(raw_tiles)[1] if raw_tiles else {}
        diff = CommitDiff.parse(raw_diff, f"{where}commit_diff") if raw_diff else None
        length = self.length
        encoded = int(ids[-1, 1]) + 1 if len(ids) else 0
        if encoded != length and not self.meta.get("is_sequence"):
            raise CorruptDataError(
                f"tensor {key!r}: tensor_meta.json says {length} samples but its chunk index "
                f"covers {encoded}; the dataset is damaged (an interrupted write by another tool?)"
            )
        self.info.update(info)
        self.chunk_ids, self.tiles, self.commit_diff = ids, tile_entries, diff
        self._flushed = (json.dumps(self.meta), json.dumps(self.info))
        self.full = True

    # -- chunk lookup ------------------------------------------------------------------------
    async def _chunk_owners(self) -> dict[str, tuple[str, str]]:
        if self._owners is None:
            owners: dict[str, tuple[str, str]] = {}
            commits = [
                c for c in self.ds.versions.ancestors(self.commit_id) if c != keys.FIRST_COMMIT_ID
            ]
            sets = await self.ds.storage.get_many(
                [keys.tensor_key(c, self.key, keys.CHUNK_SET) for c in commits]
            )
            # Nearest commit wins: fill from the farthest ancestor to the nearest.
            for commit, raw in reversed(list(zip(commits, sets, strict=True))):
                if raw:
                    for name, (c, k) in parse_chunk_set(raw).items():
                        owners[name] = (c or commit, k or self.key)
            self._owners = owners
        return self._owners

    async def chunk_key(self, chunk_id: int) -> str:
        name = keys.chunk_name(chunk_id)
        owner = (await self._chunk_owners()).get(name)
        if owner is None:
            return keys.chunk_key(keys.FIRST_COMMIT_ID, self.key, name)
        return keys.chunk_key(owner[0], owner[1], name)

    async def get_header(self, key: str) -> Any:
        """A chunk's parsed header, from the cache or by reading only the chunk's first bytes."""
        cached = self.ds.headers.get(key)
        if cached is not None:
            return cached
        want = HEADER_GUESS
        while True:
            try:
                prefix = await self.ds.storage.get_range(key, 0, want)
            except NotFoundError:
                raise CorruptDataError(
                    f"tensor {self.name!r}: chunk {key!r} is missing from {self.ds.url}; the "
                    "dataset is damaged"
                ) from None
            try:
                header = _native.parse_chunk_header(prefix)
                break
            except TruncatedDataError as exc:
                needed = exc.needed or want * 2
                if len(prefix) < want or needed <= want:
                    raise CorruptDataError(
                        f"tensor {self.name!r}: chunk {key!r} ends inside its header; the "
                        "dataset is damaged"
                    ) from None
                want = needed
        self.ds.headers.put(key, header)
        return header

    async def get_partial(self, row: int, local: np.ndarray) -> DecodedChunk | PartialChunk:
        """Only the bytes of the samples asked for (plus small gaps), when that is cheaper."""
        key = await self.chunk_key(int(self.chunk_ids[row, 0]))
        hit = self.ds.cache.get(key)
        if hit is not None:
            return hit
        header = await self.get_header(key)
        count = int(header.num_samples)
        if not len(header.byte_positions) or local.size * 2 >= count:
            return await self.get_chunk(row)
        rel = _native.sample_ranges(header.byte_positions, np.unique(local))
        spans = coalesce(rel + header.data_offset, MAX_GAP)
        pieces = await self.ds.storage.get_ranges(key, spans)
        starts = np.asarray([s for s, _ in spans], dtype=np.int64)
        return PartialChunk(header, starts, pieces, header.data_offset)

    async def get_chunk(self, row: int) -> DecodedChunk:
        key = await self.chunk_key(int(self.chunk_ids[row, 0]))
        cache = self.ds.cache
        hit = cache.get(key)
        if hit is not None:
            return hit
        try:
            raw = await self.ds.storage.get_buffer(key)
        except NotFoundError:
            raise CorruptDataError(
                f"tensor {self.name!r}: chunk {key!r} is missing from {self.ds.url}; the dataset "
                "is damaged"
            ) from None
        cc = self.meta.get("chunk_compression")
        if cc is None:
            decoded = decode_chunk(raw, cc, key)  # parses the header only: no thread hop
        else:
            decoded = await in_cpu_pool(decode_chunk, raw, cc, key)
        cache.put(key, decoded)
        self.ds.headers.put(key, decoded.header)
        return decoded

    # -- reads -------------------------------------------------------------------------------
    @property
    def stored_length(self) -> int:
        """Samples the stored chunk index covers (appends inside a batch are not there yet)."""
        return int(self.chunk_ids[-1, 1]) + 1 if len(self.chunk_ids) else 0

    async def _before_read(self, idx: np.ndarray) -> None:
        """Reading samples appended in a still-open ``with ds:`` block writes them first."""
        await self.ensure_full()
        if idx.size and int(idx.max()) >= self.stored_length and self.dirty:
            await self.ds.flush()

    def check_indices(self, idx: np.ndarray) -> None:
        n = self.length
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = int(idx[(idx < 0) | (idx >= n)][0])
            raise IndexError(f"index {bad} is out of range for tensor {self.name!r} of length {n}")

    async def read_stacked(self, idx: np.ndarray) -> np.ndarray:
        """Samples at ``idx`` as one ``(n, *shape)`` array, filled in place by one native call.

        Raises ``DynamicShapeError`` when the samples' shapes differ.
        """
        await self._before_read(idx)
        self._check_readable()
        self.check_indices(idx)
        dtype = self.dtype or np.dtype(np.uint8)
        if idx.size == 0 or (self.tiles and any(int(i) in self.tiles for i in idx)):
            return _stack(await self.read_arrays(idx), self, idx.size)
        if self.meta.get("chunk_compression") in ("png", "jpeg"):
            return _stack(await self.read_arrays(idx), self, idx.size)
        rows, local, by_row = await self._fetch(idx)
        out, _, _, shapes = await self._assemble_flat(rows, local, by_row, dtype)
        first = shapes[0]
        if not (shapes == first).all():
            other = shapes[np.flatnonzero((shapes != first).any(axis=1))[0]]
            raise DynamicShapeError(
                f"tensor {self.name!r}: the samples asked for have different shapes (e.g. "
                f"{tuple(first.tolist())} and {tuple(other.tolist())}); use .numpy(aslist=True)"
            )
        return out.reshape((idx.size, *first.tolist()))

    def read_stacked_cached(self, idx: np.ndarray) -> np.ndarray | None:
        """:meth:`read_stacked` without leaving the caller's thread, when every chunk it needs
        is already decoded in the cache (None otherwise). Saves sync callers the hop to the
        I/O loop, which costs more than copying a small batch."""
        ids = self.chunk_ids
        if (
            not self.full
            or idx.size == 0
            or self.tiles
            or self.meta.get("chunk_compression") is not None
            or self.meta.get("sample_compression") is not None
            or self.meta.get("is_link")
            or self.meta.get("is_sequence")
            or (self._owners is None and self.commit_id != keys.FIRST_COMMIT_ID)
            or idx.min() < 0
            or idx.max() >= min(self.length, self.stored_length)
        ):
            return None
        rows, local = _native.locate_samples(np.ascontiguousarray(ids[:, 1]), idx)
        by_row: dict[int, DecodedChunk | PartialChunk] = {}
        for r in np.unique(rows).tolist():
            hit = self.ds.cache.get(self._chunk_key_sync(int(ids[r, 0])))
            if hit is None:
                return None
            by_row[r] = hit
        out, _, _, shapes = self._assemble_sync(
            rows, local, by_row, self.dtype or np.dtype(np.uint8)
        )
        if not (shapes == shapes[0]).all():
            return None  # the async path raises the precise error
        self._prefetch_after(idx, rows)
        return out.reshape((idx.size, *shapes[0].tolist()))

    def _chunk_key_sync(self, chunk_id: int) -> str:
        name = keys.chunk_name(chunk_id)
        owner = (self._owners or {}).get(name)
        if owner is None:
            return keys.chunk_key(keys.FIRST_COMMIT_ID, self.key, name)
        return keys.chunk_key(owner[0], owner[1], name)

    def _prefetch_after(self, idx: np.ndarray, rows: np.ndarray) -> None:
        """A contiguous range read suggests a scan: start loading the next chunk now, so the
        next batch finds it decoded (the load runs on the I/O loop while the caller works)."""
        nxt = int(rows.max()) + 1
        if (
            idx.size < 2
            or int(idx[-1]) - int(idx[0]) + 1 != idx.size
            or nxt >= len(self.chunk_ids)
            or nxt in self._prefetching
        ):
            return
        self._prefetching.add(nxt)

        async def load() -> None:
            try:
                await self.get_chunk(nxt)
            except Exception:  # a prefetch is a hint; the real read reports any error
                pass
            finally:
                self._prefetching.discard(nxt)

        loop = get_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._prefetch_tasks.add(loop.create_task(load()))
            for t in [t for t in self._prefetch_tasks if t.done()]:
                self._prefetch_tasks.discard(t)
        else:
            asyncio.run_coroutine_threadsafe(load(), loop)

    def _check_readable(self) -> None:
        if self.meta.get("is_link") or self.meta.get("is_sequence"):
            raise ShoalError(
                f"tensor {self.name!r} is a link or sequence tensor, which shoal does not read yet"
            )

    async def _fetch(
        self, idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[int, DecodedChunk | PartialChunk]]:
        """Locate samples and fetch (or find cached) the chunks, or chunk ranges, they need."""
        rows, local = _native.locate_samples(
            np.ascontiguousarray(self.chunk_ids[:, 1]), idx.astype(np.int64)
        )
        uniq = np.unique(rows)
        ranged = self.ds.storage.remote and not self.meta.get("chunk_compression")
        chunks = await asyncio.gather(
            *(
                self.get_partial(int(r), local[rows == r]) if ranged else self.get_chunk(int(r))
                for r in uniq
            )
        )
        if not ranged:
            self._prefetch_after(idx, rows)
        return rows, local, dict(zip(uniq.tolist(), chunks, strict=True))

    async def read_arrays(self, idx: np.ndarray) -> list[np.ndarray]:
        """Samples at ``idx`` as a list of arrays (views into one output buffer)."""
        await self._before_read(idx)
        if self.meta.get("is_link") or self.meta.get("is_sequence"):
            raise ShoalError(
                f"tensor {self.name!r} is a link or sequence tensor, which shoal does not read yet"
            )
        self.check_indices(idx)
        dtype = self.dtype or np.dtype(np.uint8)
        n = idx.size
        if n == 0:
            return []
        tiled_mask = (
            np.fromiter((int(i) in self.tiles for i in idx), bool, n) if self.tiles else None
        )
        plain = idx if tiled_mask is None else idx[~tiled_mask]
        results: list[np.ndarray | None] = [None] * n
        if plain.size:
            rows, local, by_row = await self._fetch(plain)
            arrays = await self._assemble(rows, local, by_row, dtype)
            positions: list[int] = (
                np.flatnonzero(~tiled_mask).tolist() if tiled_mask is not None else list(range(n))
            )
            for p, a in zip(positions, arrays, strict=True):
                results[p] = a
        if tiled_mask is not None:
            for q in np.flatnonzero(tiled_mask).tolist():
                results[q] = await self._read_tiled(int(idx[q]), dtype)
        return results  # type: ignore[return-value]

    async def _assemble(
        self,
        rows: np.ndarray,
        local: np.ndarray,
        by_row: dict[int, DecodedChunk | PartialChunk],
        dtype: np.dtype,
    ) -> list[np.ndarray]:
        """One array per sample (views into one buffer)."""
        if self.meta.get("chunk_compression") in ("png", "jpeg"):
            return self._from_canvas(rows, local, by_row, dtype)  # type: ignore[arg-type]
        out, offsets, sizes, shapes = await self._assemble_flat(rows, local, by_row, dtype)
        flat = out.view(np.uint8)
        return [
            flat[o : o + s].view(dtype).reshape(shape)
            for o, s, shape in zip(offsets.tolist(), sizes.tolist(), shapes.tolist(), strict=True)
        ]

    async def _assemble_flat(
        self,
        rows: np.ndarray,
        local: np.ndarray,
        by_row: dict[int, DecodedChunk | PartialChunk],
        dtype: np.dtype,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every sample's bytes, back to back in one array: ``(out, offsets, sizes, shapes)``."""
        if self.meta.get("sample_compression") is None:
            return self._assemble_sync(rows, local, by_row, dtype)
        done: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = await in_cpu_pool(
            self._assemble_sync, rows, local, by_row, dtype
        )
        return done

    def _assemble_sync(
        self,
        rows: np.ndarray,
        local: np.ndarray,
        by_row: dict[int, DecodedChunk | PartialChunk],
        dtype: np.dtype,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = rows.size
        sc = self.meta.get("sample_compression")
        fixed = self.fixed_shape
        ndim = len(self.meta.get("min_shape") or [1])
        shapes = np.empty((n, ndim), dtype=np.int64)
        plan = np.empty((n, 5), dtype=np.int64)
        sources: list[Any] = []
        for row, chunk in by_row.items():
            sel = np.flatnonzero(rows == row)
            loc = local[sel]
            if fixed:
                shapes[sel] = self.meta["min_shape"]
            else:
                shapes[sel] = _native.sample_shapes(chunk.header.shapes, loc)
            if fixed and sc is None and isinstance(chunk, DecodedChunk):
                size = int(np.prod(self.meta["min_shape"])) * dtype.itemsize
                starts = chunk.base + loc * size
                ends = starts + size
            else:
                ranges = _native.sample_ranges(chunk.header.byte_positions, loc)
                starts = ranges[:, 0] + chunk.base
                ends = ranges[:, 1] + chunk.base
            if isinstance(chunk, PartialChunk):
                piece = np.searchsorted(chunk.starts, starts, side="right") - 1
                plan[sel, 0] = len(sources) + piece
                plan[sel, 1] = starts - chunk.starts[piece]
                plan[sel, 2] = ends - chunk.starts[piece]
                sources.extend(chunk.pieces)
            else:
                plan[sel, 0] = len(sources)
                plan[sel, 1] = starts
                plan[sel, 2] = ends
                sources.append(chunk.buffer)
        sizes = np.prod(shapes, axis=1) * dtype.itemsize
        offsets = np.zeros(n, dtype=np.int64)
        if n > 1:
            np.cumsum(sizes[:-1], out=offsets[1:])
        plan[:, 3] = offsets
        plan[:, 4] = sizes
        total = int(sizes.sum())
        out = np.empty(total // dtype.itemsize if dtype.itemsize else total, dtype=dtype)
        codec = sc or "none"
        live = plan[plan[:, 4] > 0] if codec != "none" else plan
        if codec == "none":
            bad = np.flatnonzero(plan[:, 2] - plan[:, 1] != plan[:, 4])
            if bad.size:
                raise CorruptDataError(
                    f"tensor {self.name!r}: a sample's stored size does not match its shape; the "
                    "chunk is damaged"
                )
        # Raw copies run where they are asked for (a hop to a pool thread costs more than a
        # memory-speed copy); decoding is already on a pool thread, split across two.
        threads = 2 if codec in ("png", "jpeg") and len(live) > 1 else 1
        _native.assemble(out, sources, np.ascontiguousarray(live), codec, threads)
        return out, offsets, sizes, shapes

    def _from_canvas(
        self, rows: np.ndarray, local: np.ndarray, by_row: dict[int, DecodedChunk], dtype: np.dtype
    ) -> list[np.ndarray]:
        """Image chunk compression: all samples of a chunk pasted left to right in one image."""
        out: list[np.ndarray] = []
        for row, loc in zip(rows.tolist(), local.tolist(), strict=True):
            chunk = by_row[row]
            count = int(chunk.header.num_samples)
            all_shapes = _native.sample_shapes(
                chunk.header.shapes, np.arange(count, dtype=np.int64)
            )
            x = int(sum(int(s[1]) for s in all_shapes[:loc] if s[0] and s[1]))
            h, w = int(all_shapes[loc][0]), int(all_shapes[loc][1])
            canvas = chunk.canvas
            assert canvas is not None
            piece = canvas[:h, x : x + w].astype(dtype, copy=True)
            out.append(piece.reshape(tuple(int(d) for d in all_shapes[loc])))
        return out

    async def _read_tiled(self, index: int, dtype: np.dtype) -> np.ndarray:
        shape, tile = self.tiles[index]
        last = self.chunk_ids[:, 1]
        first_row = int(np.searchsorted(last, index, side="left"))
        end_row = int(np.searchsorted(last, index, side="right"))
        chunks = await asyncio.gather(*(self.get_chunk(r) for r in range(first_row, end_row)))
        out = np.empty(shape, dtype=dtype)
        slices = list(tiling.tile_slices(tuple(shape), tuple(tile)))
        if len(slices) != len(chunks):
            raise CorruptDataError(
                f"tensor {self.name!r}: sample {index} should have {len(slices)} tiles but the "
                f"chunk index lists {len(chunks)}; the dataset is damaged"
            )
        sc = self.meta.get("sample_compression")
        for sl, chunk in zip(slices, chunks, strict=True):
            target = out[sl]
            data = memoryview(chunk.buffer)[chunk.base :]
            if sc in ("png", "jpeg"):
                piece = decode(data, sc)
            elif sc == "lz4":
                piece = np.frombuffer(_native.lz4_decompress(data), dtype=dtype)
            else:
                piece = np.frombuffer(data, dtype=dtype, count=target.size)
            if piece.size != target.size:
                raise CorruptDataError(
                    f"tensor {self.name!r}: a tile of sample {index} has {piece.size} values, "
                    f"expected {target.size}; the dataset is damaged"
                )
            target[...] = piece.reshape(target.shape)
        return out

    async def read_blobs(self, idx: np.ndarray) -> list[bytes]:
        """Raw stored bytes of text-like samples."""
        await self._before_read(idx)
        self.check_indices(idx)
        if idx.size == 0:
            return []
        rows, local = _native.locate_samples(
            np.ascontiguousarray(self.chunk_ids[:, 1]), idx.astype(np.int64)
        )
        uniq = np.unique(rows)
        chunks = dict(
            zip(
                uniq.tolist(),
                await asyncio.gather(*(self.get_chunk(int(r)) for r in uniq)),
                strict=True,
            )
        )
        out: list[bytes] = [b""] * idx.size
        for row, chunk in chunks.items():
            sel = np.flatnonzero(rows == row)
            ranges = _native.sample_ranges(chunk.header.byte_positions, local[sel])
            buf = memoryview(chunk.buffer)
            for p, (s, e) in zip(sel.tolist(), ranges.tolist(), strict=True):
                out[p] = bytes(buf[chunk.base + s : chunk.base + e])
        return out

    # -- staging appends ---------------------------------------------------------------------
    def prepare(self, samples: Any) -> tuple[Prepared, list[str]]:
        """Validate and convert samples; nothing is staged yet."""
        new_names: list[str] = []
        info = dict(self.info)
        if "class_names" in info:
            info["class_names"] = list(info["class_names"])
        conv = SampleConverter(self.name, self.meta, info)
        prepared = conv.prepare(samples, new_names)
        return prepared, new_names

    def stage(self, prepared: Prepared, new_class_names: list[str]) -> None:
        """Install prepared samples (cannot fail). Copies their bytes: the caller may reuse
        its arrays afterwards."""
        staged = self.staged
        base = len(staged)
        if prepared.packed is not None or prepared.sizes:
            if prepared.packed is not None:
                staged.data.append(prepared.packed)
            staged.sizes.extend(prepared.sizes)
        for blob in prepared.blobs:
            staged.data.append(blob)
            staged.sizes.append(len(blob))
        staged.shapes.extend(prepared.shapes)
        for i, arr in prepared.tiled.items():
            staged.tiled[base + i] = arr.copy()
        if prepared.dtype is not None and self.meta.get("dtype") is None:
            self.meta["dtype"] = prepared.dtype.name
            self.meta["typestr"] = prepared.dtype.str
        if new_class_names:
            self.info.setdefault("class_names", []).extend(new_class_names)
            self.info_dirty = True
        self._update_shape_bounds(prepared.shapes)
        self.meta["length"] = self.length + len(prepared)

    def _update_shape_bounds(self, shapes: list[tuple[int, ...]]) -> None:
        if not shapes:
            return
        arr = np.asarray(shapes, dtype=np.int64)
        mn, mx = arr.min(axis=0).tolist(), arr.max(axis=0).tolist()
        if self.meta.get("min_shape"):
            mn = np.minimum(mn, self.meta["min_shape"]).tolist()
            mx = np.maximum(mx, self.meta["max_shape"]).tolist()
        self.meta["min_shape"], self.meta["max_shape"] = mn, mx

    def discard_staged(self) -> None:
        """Forget everything since the last successful flush (after a failed write)."""
        self.staged = Staged()
        self._session = None
        self._tail = None
        self._last_regular = None
        meta, info = self._flushed
        self.meta.clear()
        self.meta.update(json.loads(meta))
        self.info.clear()
        self.info.update(json.loads(info))
        self.info_dirty = False

    def pending_keys(self) -> list[str]:
        """Chunk objects written since the last flush (deleted if the batch fails)."""
        return list(self._session.keys) if self._session else []

    # -- flushing ----------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return bool(len(self.staged)) or self.info_dirty or self.is_new or self._session is not None

    @property
    def staged_bytes(self) -> int:
        return len(self.staged.data)

    async def _load_tail(self) -> Tail | None:
        """The last chunk, if this head owns it and it can take more samples."""
        if self._tail is not None or not len(self.chunk_ids):
            return self._tail
        row = len(self.chunk_ids) - 1
        last = int(self.chunk_ids[row, 1])
        if last in self.tiles or self.meta.get("chunk_compression") in ("png", "jpeg"):
            return None
        key = await self.chunk_key(int(self.chunk_ids[row, 0]))
        if not key.startswith(keys.commit_prefix(self.commit_id)) or (
            self.commit_id == keys.FIRST_COMMIT_ID and key.startswith("versions/")
        ):
            return None  # owned by an older commit: leave it alone, start a new chunk
        chunk = await self.get_chunk(row)
        first = int(self.chunk_ids[row - 1, 1]) + 1 if row else 0
        count = min(int(chunk.header.num_samples), last - first + 1)
        loc = np.arange(count, dtype=np.int64)
        shapes = [tuple(s) for s in _native.sample_shapes(chunk.header.shapes, loc).tolist()]
        ranges = _native.sample_ranges(chunk.header.byte_positions, loc)
        buf = memoryview(chunk.buffer)
        if count and not (ranges[1:, 0] == ranges[:-1, 1]).all():
            return None  # samples not packed back to back: start a new chunk instead
        lo = int(ranges[0, 0]) if count else 0
        hi = int(ranges[-1, 1]) if count else 0
        data = bytes(buf[chunk.base + lo : chunk.base + hi])
        sizes = (ranges[:, 1] - ranges[:, 0]).tolist()
        return Tail(row, key, data, sizes, shapes)

    def _limits(self) -> tuple[int, int, float]:
        max_chunk = int(self.meta.get("max_chunk_size") or DEFAULT_MAX_CHUNK_SIZE)
        threshold = self.meta.get("tiling_threshold")
        ratio = COMPRESSION_RATIO if self.meta.get("chunk_compression") else 1.0
        return (
            max_chunk // 2,
            int(DEFAULT_TILING_THRESHOLD if threshold is None else threshold),
            ratio,
        )

    async def begin(self) -> Session:
        """Start a write session: the last chunk, if it has room, is rewritten with the new
        samples under a new name (chunk objects are never changed in place)."""
        if self._session is not None:
            return self._session
        await self.ensure_full()
        committed = self.length - len(self.staged)
        tail = await self._load_tail() if len(self.staged) else None
        if tail is None:
            self._session = Session(len(self.chunk_ids), committed)
            return self._session
        staged = self.staged
        merged = ByteBuffer()
        merged.append(tail.data)
        merged.append(staged.data.view())
        staged.data = merged
        staged.sizes[0:0] = tail.sizes
        staged.shapes[0:0] = tail.shapes
        staged.tiled = {k + len(tail.shapes): v for k, v in staged.tiled.items()}
        self._session = Session(tail.row, committed - len(tail.shapes), obsolete=[tail.key])
        self._tail = None
        return self._session

    def cut(self, final: bool) -> Cut:
        """Cut staged samples into chunk objects: all full ones, and the rest when ``final``.

        Runs in the caller's thread, without I/O (a session must be begun). Returns ``key ->
        parts``; the parts may be views of the staged buffer, which is handed over whole: the
        staged samples left over are copied to a fresh buffer, so later appends never touch
        memory a write in flight still reads.
        """
        session = self._session
        assert session is not None, "begin() first"
        staged = self.staged
        min_chunk, threshold, ratio = self._limits()
        cc = self.meta.get("chunk_compression")
        sc = self.meta.get("sample_compression")
        out: dict[str, list[Any]] = {}
        view = staged.data.view()
        first = first_off = cur = off = 0  # the chunk being filled starts at sample `first`
        last_regular: tuple[str, int, int, int, int] | None = None

        def close(end: int, end_off: int) -> None:
            nonlocal last_regular
            if end == first:
                return
            cid = _new_chunk_id()
            name = keys.chunk_name(cid)
            key = keys.chunk_key(self.commit_id, self.key, name)
            shapes = rle_shapes(np.asarray(staged.shapes[first:end], dtype=np.int64))
            bps = rle_byte_positions(np.asarray(staged.sizes[first:end], dtype=np.int64))
            body = view[first_off:end_off]
            if cc == "lz4":
                data = _native.lz4_compress(body)
                out[key] = [_native.serialize_chunk(FORMAT_VERSION, shapes, bps, data)]
            else:
                out[key] = [_native.serialize_chunk(FORMAT_VERSION, shapes, bps, b""), body]
            session.rows.append((cid, session.base_index + end - 1))
            session.names.append(name)
            session.keys.append(key)
            last_regular = (key, first, end, first_off, end_off)

        for i, size in enumerate(staged.sizes):
            arr = staged.tiled.get(i)
            if arr is not None:
                close(i, off)
                last_regular = None
                g = session.base_index + i
                tshape = tiling.tile_shape(
                    arr.shape,
                    arr.nbytes * (COMPRESSION_RATIO if (sc or cc) else 1.0),
                    threshold,
                    keep_last_axis=not (self.htype == "generic" and sc is None),
                )
                for piece in tiling.split(arr, tshape):
                    codec = sc or cc
                    data = encode(piece, codec, self.name, g) if codec else piece.tobytes()
                    cid = _new_chunk_id()
                    name = keys.chunk_name(cid)
                    key = keys.chunk_key(self.commit_id, self.key, name)
                    out[key] = [build_tile_chunk(data, piece.shape)]
                    session.rows.append((cid, g))
                    session.names.append(name)
                    session.keys.append(key)
                session.tiles[g] = (tuple(arr.shape), tshape)
                first, first_off, cur = i + 1, off + size, 0
                off += size
                continue
            if i > first and (cur + size) * ratio > min_chunk:
                close(i, off)
                first, first_off, cur = i, off, 0
            cur += size
            off += size
        if final:
            close(len(staged.sizes), off)
            first, first_off = len(staged.sizes), off
            self._last_regular = None
            if last_regular is not None:
                key, a, b, lo, hi = last_regular
                if (hi - lo) * ratio < min_chunk:
                    self._last_regular = Tail(
                        session.start_row + len(session.rows) - 1,
                        key,
                        bytes(view[lo:hi]),
                        staged.sizes[a:b],
                        staged.shapes[a:b],
                    )
        # Hand the buffer over to the writes; keep what is left in a spare one.
        left = ByteBuffer(self._spares.pop() if self._spares else None)
        left.append(view[first_off:])
        rest = Staged(
            left,
            staged.sizes[first:],
            staged.shapes[first:],
            {k - first: v for k, v in staged.tiled.items() if k >= first},
        )
        self.staged = rest
        session.base_index += first
        return Cut(out, staged.data.arr if out else None)

    async def drain(self) -> None:
        """Write the full chunks staged so far (inside ``with ds:``), keeping memory bounded.

        The encoders and metas that name them are written by the next flush.
        """
        await self.begin()
        await self.write_chunks(self.cut(final=False))

    async def write_chunks(self, cut: Cut) -> None:
        await self.ds.storage.put_many({k: _join(p) for k, p in cut.chunks.items()})
        cut.chunks.clear()
        if cut.buffer is not None and len(self._spares) < 2:
            self._spares.append(cut.buffer)  # written: its memory can stage the next samples

    async def plan_flush(self) -> FlushPlan | None:
        """Cut the remaining staged samples into chunks and compute every object to write."""
        if not self.dirty:
            return None
        chunks: dict[str, Any] = {}
        session = None
        new_tail: Tail | None = self._tail
        if len(self.staged) or self._session is not None:
            session = await self.begin()
            chunks = {k: _join(p) for k, p in self.cut(final=True).chunks.items()}
            new_tail = self._last_regular
        ids = self.chunk_ids
        tiles_all = self.tiles
        if session is not None:
            rows = np.asarray(session.rows, dtype=np.uint64).reshape(-1, 2)
            ids = np.concatenate([ids[: session.start_row], rows])
            tiles_all = {**self.tiles, **session.tiles}
        objects: dict[str, bytes] = {}
        if session is not None or self.is_new:
            objects[self._tkey(keys.CHUNK_IDS)] = _native.serialize_chunk_ids(FORMAT_VERSION, ids)
            objects[self._tkey(keys.TILE_ENCODER)] = _native.serialize_tile_encoder(
                FORMAT_VERSION, tiles_all
            )
        if self.info_dirty:
            objects[self._tkey(keys.TENSOR_INFO)] = jsonio.dumps_meta(self.info)
        diff = self.commit_diff or CommitDiff(created=True)
        new_diff = CommitDiff(
            diff.created,
            diff.info_updated or self.info_dirty,
            diff.data_transformed,
            diff.added_start,
            self.length if session is not None else diff.added_end,
            diff.tail,
        )
        objects[self._tkey(keys.COMMIT_DIFF)] = new_diff.serialize()
        owners = await self._chunk_owners()
        chunk_set_names: list[str] | None = None
        obsolete = list(session.obsolete) if session is not None else []
        owned = list(session.names) if session is not None else []
        if self.commit_id != keys.FIRST_COMMIT_ID and (owned or obsolete):
            gone = {k.rsplit("/", 1)[-1] for k in obsolete}
            mine = [n for n, (c, k) in owners.items() if c == self.commit_id and k == self.key]
            chunk_set_names = [n for n in mine if n not in gone] + owned
            objects[self._tkey(keys.CHUNK_SET)] = serialize_chunk_set(chunk_set_names)
        meta_bytes = jsonio.dumps_meta(self.meta)
        written = [k for k in (session.keys if session else []) if k not in chunks]

        def apply() -> None:
            self.is_new = False
            self._flushed = (meta_bytes.decode(), json.dumps(self.info))
            self.chunk_ids = ids
            self.tiles = tiles_all
            self.commit_diff = new_diff
            self.info_dirty = False
            self.staged = Staged()
            self._session = None
            self._tail = new_tail
            self._spares.clear()
            for key in obsolete:
                self.ds.cache.discard(key)
            if chunk_set_names is not None:
                for key in obsolete:
                    owners.pop(key.rsplit("/", 1)[-1], None)
                for n in owned:
                    owners[n] = (self.commit_id, self.key)

        return FlushPlan(
            chunks,
            objects,
            self._tkey(keys.TENSOR_META),
            meta_bytes,
            obsolete,
            written,
            apply,
        )


def _join(parts: list[Any]) -> Any:
    """One buffer for a chunk object (a copy only when it has a header and a body)."""
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _stack(arrays: list[np.ndarray], e: TensorEngine, n: int) -> np.ndarray:
    if n == 0:
        shape = e.meta.get("max_shape") or []
        return np.zeros((0, *shape), dtype=e.dtype or np.uint8)
    first = arrays[0].shape
    if any(a.shape != first for a in arrays):
        other = next(a.shape for a in arrays if a.shape != first)
        raise DynamicShapeError(
            f"tensor {e.name!r}: the samples asked for have different shapes (e.g. {first} and "
            f"{other}); use .numpy(aslist=True)"
        )
    return np.stack(arrays)


def _new_chunk_id() -> int:
    # deeplake uses uuid4().int >> 64; any random 64-bit id works. Keep the top bit clear of
    # zero-length names by requiring a non-zero id.
    while True:
        cid = int.from_bytes(os.urandom(8), "little")
        if cid:
            return cid


def ensure_samples(samples: Any, name: str) -> list[Any]:
    """``extend`` input as a list of samples, or a batch array (one sample per row)."""
    if isinstance(samples, np.ndarray):
        if samples.ndim == 0:
            raise SampleError(f"extend({name!r}) takes a sequence of samples, got a scalar array")
        return samples  # type: ignore[return-value]
    if isinstance(samples, (str, bytes, dict)):
        raise SampleError(
            f"extend on tensor {name!r} takes a sequence of samples, got a single "
            f"{type(samples).__name__}; use append for one sample"
        )
    try:
        return list(samples)
    except TypeError:
        raise SampleError(
            f"extend on tensor {name!r} takes a sequence of samples, got {type(samples).__name__}"
        ) from None
