"""Chunk objects: building them from samples, and decoding them for reads.

A chunk is ``header | data`` (see ``shoal._native``). Shape and byte-position rows are
run-length encoded with an inclusive last local index, as deeplake writes them.
"""

from __future__ import annotations

import collections
import mmap
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _native
from .._env import env_int
from ..errors import CodecError, CorruptDataError, SampleError
from ..format import image_codecs
from ..format.keys import FORMAT_VERSION


def rle_shapes(shapes: np.ndarray) -> np.ndarray:
    """Shape-encoder rows ``[dims..., last_local_index]`` for ``(n, ndim)`` shapes."""
    n = shapes.shape[0]
    if n == 0:
        return np.zeros((0, shapes.shape[1] + 1), dtype=np.uint32)
    change = np.any(shapes[1:] != shapes[:-1], axis=1)
    ends = np.flatnonzero(np.append(change, True))
    rows = np.empty((ends.size, shapes.shape[1] + 1), dtype=np.uint32)
    rows[:, :-1] = shapes[ends]
    rows[:, -1] = ends
    return rows


def rle_byte_positions(sizes: np.ndarray) -> np.ndarray:
    """Byte-position rows ``[num_bytes, start_byte, last_local_index]`` for sample sizes."""
    n = sizes.shape[0]
    if n == 0:
        return np.zeros((0, 3), dtype=np.uint32)
    change = sizes[1:] != sizes[:-1]
    ends = np.flatnonzero(np.append(change, True))
    starts_idx = np.concatenate(([0], ends[:-1] + 1))
    offsets = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
    if offsets[-1] >= 2**32:
        # The format stores byte positions as uint32: a bigger chunk would be silently corrupt.
        raise SampleError(
            f"a chunk may hold less than 4 GiB of data, this one would hold {int(offsets[-1])} "
            "bytes; lower the tensor's max_chunk_size or enable tiling"
        )
    rows = np.empty((ends.size, 3), dtype=np.uint32)
    rows[:, 0] = sizes[ends]
    rows[:, 1] = offsets[starts_idx]
    rows[:, 2] = ends
    return rows


def build_tile_chunk(tile_data: bytes, tile_shape: tuple[int, ...]) -> bytes:
    """A tile is a chunk of one sample with no byte positions."""
    shapes = np.array([[*tile_shape, 0]], dtype=np.uint32)
    return _native.serialize_chunk(
        FORMAT_VERSION, shapes, np.zeros((0, 3), dtype=np.uint32), tile_data
    )


@dataclass
class DecodedChunk:
    """A chunk ready for reads: header plus the buffer its byte positions point into."""

    header: Any  # _native.ChunkHeader
    buffer: Any  # bytes-like; byte positions are relative to ``base`` in it
    base: int
    nbytes: int
    canvas: np.ndarray | None = None  # image chunk compression: the decoded canvas


def decode_chunk(raw: bytes | memoryview, chunk_compression: str | None, key: str) -> DecodedChunk:
    """Parse (and for chunk compression, decompress) a chunk object. Runs in the CPU pool."""
    try:
        header = _native.parse_chunk_header(raw)
        if chunk_compression == "lz4":
            body = memoryview(raw)[header.data_offset :]
            data = _native.lz4_decompress(body) if len(body) else b""
            return DecodedChunk(header, data, 0, len(raw) + len(data))
        if chunk_compression in image_codecs.DECODERS:
            body = memoryview(raw)[header.data_offset :]
            canvas = (
                image_codecs.decode(body, chunk_compression)
                if len(body)
                else np.zeros((0, 0, 0), np.uint8)
            )
            return DecodedChunk(header, raw, header.data_offset, len(raw) + canvas.nbytes, canvas)
    except (CorruptDataError, CodecError) as exc:  # a damaged header or compressed body
        raise CorruptDataError(f"chunk {key!r} is corrupt: {exc}") from None
    # A memory map costs page-cache pages the kernel can drop, not process memory: count it
    # lightly so a scan keeps many chunks mapped (the item cap bounds the number of maps).
    # (A memoryview over anything else, a body read from the network, is process memory.)
    mapped = isinstance(raw, memoryview) and isinstance(raw.obj, mmap.mmap)
    weight = header.data_offset + MAPPED_WEIGHT if mapped else len(raw)
    return DecodedChunk(header, raw, header.data_offset, weight)


class HeaderCache:
    """Parsed chunk headers by key, so a chunk's header is fetched once. Thread-safe LRU."""

    def __init__(self, max_items: int = 65536) -> None:
        self.max_items = max_items
        self._items: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, header: Any) -> None:
        with self._lock:
            self._items[key] = header
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)


MAPPED_WEIGHT = 4096


class ChunkCache:
    """Byte-bounded LRU of decoded chunks, shared by a dataset's tensors. Thread-safe."""

    def __init__(self, max_bytes: int | None = None, max_items: int = 4096) -> None:
        if max_bytes is None:
            max_bytes = env_int("SHOAL_CHUNK_CACHE_BYTES", 512 * 2**20, min=0)
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._items: collections.OrderedDict[str, DecodedChunk] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> DecodedChunk | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, item: DecodedChunk) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if item.nbytes > self.max_bytes:
                return
            self._items[key] = item
            self._bytes += item.nbytes
            while self._items and (
                self._bytes > self.max_bytes or len(self._items) > self.max_items
            ):
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def discard(self, key: str) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
