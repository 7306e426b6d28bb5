"""Locating a tensor's chunk objects and fetching them: whole, header only, or byte ranges.

A chunk id names an object under the commit that owns it: the nearest ancestor whose
``chunk_set`` lists it, or the first commit. Headers are cached once read; decoded chunks go
to the dataset's chunk cache. Remote reads of a few samples fetch only their byte ranges; the
storage provider merges neighbouring ranges into one request (that is its job, not ours).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _native
from .._index import distinct
from .._loop import in_cpu_pool
from ..errors import CorruptDataError, NotFoundError, TruncatedDataError
from ..format import keys
from ..format.versions import parse_chunk_set
from .chunks import DecodedChunk, decode_chunk
from .context import TensorContext

HEADER_GUESS = 4096  # first read of a chunk header; most headers are far smaller


@dataclass
class PartialChunk:
    """Some byte ranges of a chunk: ``pieces[i]`` holds the bytes from ``starts[i]`` on."""

    header: Any
    starts: np.ndarray
    pieces: Sequence[bytes | memoryview]
    base: int = 0  # byte positions are made absolute with header.data_offset


Fetched = DecodedChunk | PartialChunk


class ChunkFetcher:
    """Chunk objects of one tensor at one commit."""

    def __init__(self, ctx: TensorContext, tensor_key: str, meta: dict[str, Any]) -> None:
        self.ctx = ctx
        self.tensor_key = tensor_key
        self._meta = meta  # shared with the tensor engine: name and chunk compression
        self.owners: dict[str, tuple[str, str]] | None = None  # chunk name -> (commit, tensor)
        self._owners_loading: asyncio.Future[dict[str, tuple[str, str]]] | None = None

    @property
    def _name(self) -> str:
        return str(self._meta.get("name") or self.tensor_key)

    # -- where chunks live -------------------------------------------------------------------
    async def load_owners(self) -> dict[str, tuple[str, str]]:
        # One read of the chunk sets however many chunks ask at once (a flush rebuilding
        # dozens of chunks asks for each of them concurrently).
        if self.owners is None:
            if self._owners_loading is None:
                self._owners_loading = asyncio.ensure_future(self._read_owners())
            loading = self._owners_loading
            try:
                owners = await asyncio.shield(loading)
            finally:
                if loading.done() and self._owners_loading is loading:
                    self._owners_loading = None
            if self.owners is None:
                self.owners = owners
        return self.owners

    async def _read_owners(self) -> dict[str, tuple[str, str]]:
        owners: dict[str, tuple[str, str]] = {}
        commits = [c for c in self.ctx.ancestors if c != keys.FIRST_COMMIT_ID]
        sets = await self.ctx.storage.get_many(
            [keys.tensor_key(c, self.tensor_key, keys.CHUNK_SET) for c in commits]
        )
        # Nearest commit wins: fill from the farthest ancestor to the nearest.
        for commit, raw in reversed(list(zip(commits, sets, strict=True))):
            if raw:
                for name, (c, k) in parse_chunk_set(raw).items():
                    owners[name] = (c or commit, k or self.tensor_key)
        return owners

    @property
    def owners_known(self) -> bool:
        """Whether chunk keys can be computed without I/O."""
        return self.owners is not None or self.ctx.commit_id == keys.FIRST_COMMIT_ID

    def key_sync(self, chunk_id: int) -> str:
        """The key of a chunk (``owners_known`` must hold)."""
        name = keys.chunk_name(chunk_id)
        owner = (self.owners or {}).get(name)
        if owner is None:
            return keys.chunk_key(keys.FIRST_COMMIT_ID, self.tensor_key, name)
        return keys.chunk_key(owner[0], owner[1], name)

    async def key(self, chunk_id: int) -> str:
        if not self.owners_known:
            await self.load_owners()
        return self.key_sync(chunk_id)

    # -- fetching ----------------------------------------------------------------------------
    def _missing(self, key: str) -> CorruptDataError:
        return CorruptDataError(
            f"tensor {self._name!r}: chunk {key!r} is missing from {self.ctx.url}; the dataset "
            "is damaged"
        )

    async def header(self, key: str) -> Any:
        """A chunk's parsed header, from the cache or by reading only the chunk's first bytes."""
        cached = self.ctx.headers.get(key)
        if cached is not None:
            return cached
        want = HEADER_GUESS
        while True:
            try:
                prefix = await self.ctx.storage.get_range(key, 0, want)
            except NotFoundError:
                raise self._missing(key) from None
            try:
                header = _native.parse_chunk_header(prefix)
                break
            except TruncatedDataError as exc:
                needed = exc.needed or want * 2
                if len(prefix) < want or needed <= want:
                    raise CorruptDataError(
                        f"tensor {self._name!r}: chunk {key!r} ends inside its header; the "
                        "dataset is damaged"
                    ) from None
                want = needed
        self.ctx.headers.put(key, header)
        return header

    async def partial(self, chunk_id: int, local: np.ndarray) -> Fetched:
        """Only the bytes of the samples asked for, when that is cheaper than the chunk."""
        key = await self.key(chunk_id)
        hit = self.ctx.cache.get(key)
        if hit is not None:
            return hit
        header = await self.header(key)
        count = int(header.num_samples)
        if not len(header.byte_positions) or local.size * 2 >= count:
            return await self.by_key(key)
        rel = _native.sample_ranges(header.byte_positions, distinct(local))
        spans = [(int(s), int(e)) for s, e in (rel + header.data_offset).tolist()]
        pieces = await self.ctx.storage.get_ranges(key, spans)
        starts = np.asarray([s for s, _ in spans], dtype=np.int64)
        return PartialChunk(header, starts, pieces, header.data_offset)

    async def chunk(self, chunk_id: int) -> DecodedChunk:
        return await self.by_key(await self.key(chunk_id))

    async def by_key(self, key: str, keep: bool = True) -> DecodedChunk:
        """A whole chunk, decoded once and cached. ``keep=False``: not put in the cache, for
        readers that hold the chunks they fetch themselves (the loader counts them against its
        own memory bound; cached too, they would be held twice)."""
        cache = self.ctx.cache
        hit = cache.get(key)
        if hit is not None:
            return hit
        try:
            raw = await self.ctx.storage.get_buffer(key)
        except NotFoundError:
            raise self._missing(key) from None
        cc = self._meta.get("chunk_compression")
        if cc is None:
            decoded = decode_chunk(raw, cc, key)  # parses the header only: no thread hop
        else:
            decoded = await in_cpu_pool(decode_chunk, raw, cc, key)
        if keep:
            cache.put(key, decoded)
        self.ctx.headers.put(key, decoded.header)
        return decoded

    def cached(self, chunk_id: int) -> DecodedChunk | None:
        """A decoded chunk if the cache has it (``owners_known`` must hold); no I/O."""
        return self.ctx.cache.get(self.key_sync(chunk_id))
