"""Where a png/jpeg chunk-compressed tensor starts a new chunk, as deeplake 3.9.52 decides.

Such a chunk is one image of its samples side by side (``canvas``), so its size is known only
by encoding it. deeplake (``ChunkCompressedChunk.extend_if_has_space_image_compression``)
keeps, per chunk, an estimate of the compression ratio, starting at 0.5. For each incoming
sample it checks ``(bytes in the chunk when this append call began + the sample's bytes) *
ratio > min_chunk_size``; only then does it encode the chunk with the sample: if that is
larger than ``min_chunk_size`` the sample starts a new chunk, else the estimate is halved and
the sample stays. The bytes counted are those at the start of the call, not the running
total: one ``extend`` of many small images fills a single chunk, while the same images
appended one call at a time are cut every ``min_chunk_size`` or so of encoded image. Chunk
boundaries therefore depend on how samples were appended, and :class:`ImageCuts` replays the
rule over the staged samples and the append calls that staged them. Samples cut again by an
update, a merge or a rechunk count as appended one call each, the sizes appends one at a
time give (deeplake re-encodes an updated chunk in place, at whatever size).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .canvas import arrays_of, encode_canvas
from .staging import Staged

#: deeplake's starting estimate of a chunk's compression ratio (``get_compression_ratio``).
START_RATIO = 0.5


class ImageCuts:
    """The boundary rule over ``staged`` (whose first sample opens the chunk being filled)."""

    def __init__(
        self, staged: Staged, view: memoryview, meta: dict[str, Any], min_chunk: int
    ) -> None:
        self.view = view
        self.sizes, self.shapes = staged.sizes, staged.shapes
        self.appended = staged.calls is not None
        self.calls = set(staged.calls or ())
        self.settled = staged.settled  # a tail's samples: placed already
        self.ratio = self.start_ratio = staged.ratio
        self.min_chunk = min_chunk
        self.compression = str(meta["chunk_compression"])
        self.dtype = np.dtype(meta.get("dtype") or "uint8")
        self.name = str(meta.get("name") or "")
        self.first = self.first_off = 0  # the open chunk: its first sample and byte offset
        self.cur = 0  # its bytes so far
        self.base = 0  # its bytes when the current append call began

    def restart(self, i: int, off: int) -> None:
        """A new, empty chunk opens at sample ``i`` (after a tile, or a cut)."""
        self.first, self.first_off, self.cur, self.base = i, off, 0, 0
        self.ratio = START_RATIO

    def _encoded_size(self, end: int, end_off: int) -> int:
        arrays = arrays_of(
            self.view[self.first_off : end_off],
            self.sizes[self.first : end],
            self.shapes[self.first : end],
            self.dtype,
        )
        return len(encode_canvas(arrays, self.compression, self.name))

    def _fits(self, i: int, off: int, size: int) -> bool:
        """Whether sample ``i`` joins the open chunk (updating the estimate as deeplake does)."""
        if (self.base + size) * self.ratio <= self.min_chunk:
            return True
        encoded = self._encoded_size(i + 1, off + size)
        if encoded > self.min_chunk and i > self.first:
            return False
        # (an empty chunk keeps even a sample encoded larger: deeplake, refusing it below the
        # tiling threshold, would retry it for ever)
        self.ratio /= 2
        return True

    def starts_chunk(self, i: int, off: int) -> bool:
        """Place sample ``i`` (at byte ``off``); True if it opens a new chunk (the caller
        closes the open one before it)."""
        size = self.sizes[i]
        if i < self.settled:
            self.cur += size
            return False
        if i in self.calls or not self.appended:
            self.base = self.cur
        new = False
        if not self._fits(i, off, size):
            self.restart(i, off)
            self._fits(i, off, size)  # the new chunk's own check (a fresh call there)
            new = True
        self.cur += size
        return new

    def leftover(self, first: int) -> tuple[list[int] | None, int, float]:
        """The calls, settled samples and ratio of what stays staged from sample ``first``
        (the open chunk's first sample)."""
        calls = sorted(c - first for c in self.calls if c >= first) if self.appended else None
        if first == 0:
            return calls, self.settled, self.start_ratio  # scanned again from the same state
        return calls, 0, START_RATIO
