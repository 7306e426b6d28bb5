"""A link tensor's creds index (``creds_index/unsharded``): per sample, which creds key reads
it (``0``: none, ``k``: ``linked_creds.json``'s ``creds_keys[k-1]``).

Stored as deeplake does: a version header, then run-length ``uint32`` rows
``[encoding, last_sample_index]``. In memory it is one code per sample, so appends and reads
need no search.
"""

from __future__ import annotations

import numpy as np

from .. import _native
from ..errors import CorruptDataError
from ..format.keys import FORMAT_VERSION

KEY = "creds_index/unsharded"


def parse(raw: bytes | memoryview | None, length: int, where: str) -> np.ndarray:
    """Per-sample codes of a stored creds index (all 0 when there is none)."""
    if not raw:
        return np.zeros(length, dtype=np.uint32)
    _, rows = _native.parse_u32_encoder(raw, 2)
    if not len(rows):
        return np.zeros(length, dtype=np.uint32)
    lasts = rows[:, 1].astype(np.int64)
    if (np.diff(lasts) <= 0).any() or int(lasts[-1]) + 1 < length:
        raise CorruptDataError(
            f"{where} covers {int(lasts[-1]) + 1} samples, the tensor has {length}; the "
            "dataset is damaged"
        )
    counts = np.diff(np.concatenate([[-1], lasts]))
    return np.repeat(rows[:, 0], counts)[:length].astype(np.uint32)


def serialize(codes: np.ndarray) -> bytes:
    """Run-length rows of per-sample codes, in deeplake's layout."""
    codes = np.asarray(codes, dtype=np.uint32)
    if codes.size == 0:
        table = np.zeros((0, 2), dtype=np.uint32)
    else:
        ends = np.flatnonzero(np.diff(codes) != 0)
        lasts = np.concatenate([ends, [codes.size - 1]])
        table = np.stack([codes[lasts], lasts.astype(np.uint32)], axis=1).astype(np.uint32)
    return _native.serialize_u32_encoder(FORMAT_VERSION, np.ascontiguousarray(table))


class CredsIndex:
    """The codes of one link tensor: stored ones plus those appended since the last flush."""

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = codes
        self.flushed = codes
        self.dirty = False

    def stage(self, codes: list[int]) -> None:
        self.codes = np.concatenate([self.codes, np.asarray(codes, dtype=np.uint32)])
        self.dirty = True

    def set(self, indices: list[int], codes: list[int]) -> None:
        self.codes = self.codes.copy()
        self.codes[np.asarray(indices, dtype=np.int64)] = np.asarray(codes, dtype=np.uint32)
        self.dirty = True

    def pop(self, indices: list[int]) -> None:
        self.codes = np.delete(self.codes, np.asarray(indices, dtype=np.int64))
        self.dirty = True

    def discard(self) -> None:
        self.codes = self.flushed
        self.dirty = False

    def stored(self) -> None:
        self.flushed = self.codes
        self.dirty = False
