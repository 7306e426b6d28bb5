"""One tensor as the loader reads it: which whole chunks a batch needs, and its batch values.

Most tensors take the fast path: the loader fetches whole chunks itself (keeping many GETs in
flight, within its memory bound, each chunk once however many batches share it) and fills
each batch with the engine's native ``assemble``, which runs with the GIL released; object
htypes (text, json, lists) cut their samples' bytes out of the same chunks and decode them.
What that path does not cover (image chunk compression, tiled samples, samples of an
unflushed batch, links, sequences) is read through the tensor's own read methods, which
fetch and cache chunks as any read does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _native
from .._index import distinct
from ..engine import assemble
from ..engine.chunks import DecodedChunk
from ..engine.fetch import Fetched
from ..engine.tensor import TensorEngine


@dataclass
class Need:
    """The chunks one tensor needs for one batch (empty when it reads through the engine)."""

    rows: np.ndarray
    local: np.ndarray
    keys: dict[int, str]  # chunk row -> chunk key
    estimates: dict[str, int]  # chunk key -> expected bytes before it is fetched
    fallback: bool


class TensorReader:
    def __init__(self, name: str, engine: TensorEngine) -> None:
        self.name = name
        self.t = engine
        meta = engine.meta
        self.objects = engine.kind.is_object
        self.fast = (
            not meta.get("is_link")
            and not meta.get("is_sequence")
            and meta.get("chunk_compression") in (None, "lz4")
            and engine.readable_stored == engine.length
        )
        self.dtype = engine.dtype or np.dtype(np.uint8)
        self.tiled = np.fromiter(engine.tiles, np.int64, len(engine.tiles))
        shape = meta.get("max_shape") or []
        # Decoded bytes of one sample, for the output estimate (an upper bound for images of
        # varying size).
        self.sample_bytes = max(1, int(np.prod(shape or [1])) * self.dtype.itemsize)
        compressed = meta.get("sample_compression") or meta.get("chunk_compression")
        # Stored bytes per sample, learnt from the chunks fetched so far.
        self.stored_per_sample = self.sample_bytes / (8 if compressed else 1)
        self.max_chunk = int(meta.get("max_chunk_size") or 0)
        self._fetched_bytes = 0
        self._fetched_samples = 0

    @property
    def chunk_ends(self) -> np.ndarray:
        ends = np.asarray(self.t.chunk_ids[:, 1], dtype=np.int64)
        seq = self.t.seq
        if seq is not None:  # chunks end at items: the sample holding each chunk's last item
            ends = np.searchsorted(seq.starts, ends, side="right") - 1
        return ends

    def need(self, idx: np.ndarray) -> Need:
        if not self.fast or (self.tiled.size and np.isin(idx, self.tiled).any()):
            empty = np.zeros(0, np.int64)
            return Need(empty, empty, {}, {}, True)
        ids = self.t.chunk_ids
        rows, local = _native.locate_samples(np.ascontiguousarray(ids[:, 1]), idx)
        keys: dict[int, str] = {}
        estimates: dict[str, int] = {}
        key_of = self.t.fetch.key_sync
        for r in distinct(rows).tolist():
            key = key_of(int(ids[r, 0]))
            keys[r] = key
            count = int(ids[r, 1]) - (int(ids[r - 1, 1]) if r else -1)
            est = int(count * self.stored_per_sample)
            estimates[key] = min(est, self.max_chunk) if self.max_chunk else est
        return Need(rows, local, keys, estimates, False)

    def last_use(self, batches: list[np.ndarray]) -> np.ndarray | None:
        """For each chunk row, the position in ``batches`` of the last batch that reads it
        (-1: none); None when this tensor reads through the engine. A batch the fast path
        does not cover (a tiled sample) counts as reading its chunks: at worst a chunk is
        kept longer than needed."""
        if not self.fast or not batches:
            return None
        ends = np.ascontiguousarray(self.t.chunk_ids[:, 1])
        rows, _ = _native.locate_samples(ends, np.concatenate(batches))
        position = np.repeat(np.arange(len(batches)), [b.size for b in batches])
        last = np.full(ends.size, -1, np.int64)
        np.maximum.at(last, rows, position)
        return last

    def learn(self, chunk: DecodedChunk) -> None:
        """Refine the per-sample size estimate from a fetched chunk."""
        self._fetched_bytes += chunk.nbytes
        self._fetched_samples += max(1, int(chunk.header.num_samples))
        self.stored_per_sample = self._fetched_bytes / self._fetched_samples

    async def fetch(self, key: str) -> DecodedChunk:
        """A whole chunk, not put in the shared cache: the loader holds it until used."""
        return await self.t.fetch.by_key(key, keep=False)

    async def read_through_engine(self, idx: np.ndarray) -> Any:
        """Batch values of what the fast path does not cover."""
        t = self.t
        if t.seq is not None:  # one value per sample: its items, as t[i].numpy() gives them
            return await self._sequences(idx)
        if t.kind.is_object:
            return [t.kind.decode(b, t.name) for b in await t.read_blobs(idx)]
        arrays = await t.read_arrays(idx)
        return _stack_or_list(arrays)

    async def _sequences(self, idx: np.ndarray) -> Any:
        t, seq = self.t, self.t.seq
        assert seq is not None
        flat = seq.flat(idx)
        if t.kind.is_object:
            values: list[Any] = [t.kind.decode(b, t.name) for b in await t.read_blobs(flat)]
        else:
            values = await t.read_arrays(flat)
        out, pos = [], 0
        for n in seq.lengths(idx).tolist():
            part = values[pos : pos + n]
            pos += n
            out.append(part if t.kind.is_object else _stack_or_list(part))
        return out if t.kind.is_object else _stack_or_list(out)

    def assemble(self, need: Need, chunks: dict[str, DecodedChunk], n: int) -> Any:
        """The batch's values from fetched chunks (runs on a loader thread; the native copy
        or decode releases the GIL)."""
        t = self.t
        decoded = {row: chunks[key] for row, key in need.keys.items()}
        if self.objects:
            decode = t.kind.decode
            stored = assemble.blobs(need.rows, need.local, decoded, n)
            return [decode(b, t.name) for b in assemble.unpack_blobs(t.meta, stored, t.name)]
        by_row: dict[int, Fetched] = dict(decoded)
        flat = assemble.assemble_flat(
            t.meta, t.fixed_shape, need.rows, need.local, by_row, self.dtype
        )
        shapes = flat[3]
        if n and (shapes == shapes[0]).all():
            return assemble.uniform(flat, n, t.name)
        return assemble.split_flat(flat, self.dtype)


def _stack_or_list(arrays: list[Any]) -> Any:
    if arrays and all(isinstance(a, np.ndarray) and a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    return arrays
