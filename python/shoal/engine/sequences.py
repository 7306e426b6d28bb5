"""Sequence tensors (``sequence[image]``, ``sequence[class_label]``, ...): each sample is a list
of items, and the tensor's chunks hold the items one after another, as a plain tensor would.

The sequence index (``sequence_index/unsharded``) says which items make each sample. deeplake
3.9.52 stores it as its byte-positions encoder over item counts: a version header, then
``uint32`` rows ``[items_per_sample, first_item, last_sample_index]``, one row per run of
samples with the same number of items. In memory it is each sample's first item (one past
the last at the end), so a sample's items are found without a search. The rows as stored are
kept, extended on append and popped as deeplake pops them (``sequence_edits``), so a file
deeplake wrote (even one it left with two neighbouring rows of the same count, after a pop)
comes back byte for byte.

The tensor meta's ``length`` counts items, as deeplake's does; users see samples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _native
from ..errors import CorruptDataError, SampleError
from ..format.keys import FORMAT_VERSION

if TYPE_CHECKING:
    from .samples import Prepared
    from .tensor import TensorEngine

KEY = "sequence_index/unsharded"
PREFIX = "sequence["


def split_sequence_htype(htype: Any) -> tuple[Any, bool]:
    """``("image", True)`` for ``"sequence[image]"``; ``("link[image]", True)`` for
    ``"sequence[link[image]]"`` and for ``"link[sequence[image]]"`` (how deeplake names it
    back); ``(htype, False)`` otherwise."""
    linked = "link[sequence["
    if isinstance(htype, str) and htype.startswith(linked) and htype.endswith("]]"):
        return f"link[{htype[len(linked) : -2]}]", True
    if not isinstance(htype, str) or not htype.startswith("sequence"):
        return htype, False
    if not (htype.startswith(PREFIX) and htype.endswith("]")) or htype == "sequence[]":
        from ..errors import InvalidHtypeError

        raise InvalidHtypeError(
            f"htype {htype!r}: a sequence tensor names what its items are, e.g. "
            "'sequence[image]' or 'sequence[class_label]'"
        )
    inner = htype[len(PREFIX) : -1]
    if inner == "tag":
        from ..errors import InvalidHtypeError

        raise InvalidHtypeError(
            "htype 'sequence[tag]' is not supported (deeplake refuses it too); use "
            "'sequence[list]' or a 'tag' tensor"
        )
    return inner, True


def _rows_to_starts(rows: np.ndarray, items: int, where: str) -> np.ndarray:
    if not len(rows):
        return np.zeros(1, dtype=np.int64)
    counts, firsts, lasts = (rows[:, k].astype(np.int64) for k in range(3))
    per_row = np.diff(np.concatenate([[-1], lasts]))
    if (per_row <= 0).any():
        raise CorruptDataError(f"{where}: sample indices do not increase; the dataset is damaged")
    lengths = np.repeat(counts, per_row)
    starts = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    row_starts = starts[np.concatenate([[0], lasts[:-1] + 1])]
    if (row_starts != firsts).any() or starts[-1] != items:
        raise CorruptDataError(
            f"{where} covers {int(starts[-1])} items, the tensor has {items} (or its rows "
            "disagree on where they start); the dataset is damaged"
        )
    return starts


class SequenceIndex:
    """Where each sample of a sequence tensor starts: stored samples and those staged since."""

    def __init__(self, rows: np.ndarray, starts: np.ndarray) -> None:
        self.rows = rows  # the stored rows, uint32 (n, 3)
        self.starts = starts  # int64, one per sample plus one past the end
        self.flushed = (rows, starts)
        self.merged = False  # appended by a merge (install): its commit diff counts items

    @classmethod
    def empty(cls) -> SequenceIndex:
        return cls(np.zeros((0, 3), dtype=np.uint32), np.zeros(1, dtype=np.int64))

    @classmethod
    def parse(cls, raw: bytes | memoryview | None, items: int, where: str) -> SequenceIndex:
        if not raw:
            if items:
                raise CorruptDataError(
                    f"{where} is missing but the sequence tensor holds {items} items; the "
                    "dataset is damaged"
                )
            return cls.empty()
        _, rows = _native.parse_u32_encoder(raw, 3)
        return cls(rows, _rows_to_starts(rows, items, where))

    # -- reading -----------------------------------------------------------------------------
    @property
    def samples(self) -> int:
        return int(self.starts.size - 1)

    @property
    def items(self) -> int:
        return int(self.starts[-1])

    def lengths(self, idx: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.starts[idx + 1] - self.starts[idx]
        return out

    def flat(self, idx: np.ndarray) -> np.ndarray:
        """The item indices of samples ``idx``, in order."""
        if not idx.size:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.arange(self.starts[i], self.starts[i + 1]) for i in idx])

    # -- writing -----------------------------------------------------------------------------
    def stage(self, lengths: Iterable[int]) -> None:
        add = np.asarray(list(lengths), dtype=np.int64)
        if add.size:
            self.starts = np.concatenate([self.starts, self.starts[-1] + np.cumsum(add)])

    def install(self, rows: np.ndarray, lengths: list[int]) -> None:
        """Samples of ``lengths`` items appended with the stored rows ``rows`` (a merge's,
        which need not be the rows an append makes)."""
        self.stage(lengths)
        self.rows = rows
        self.merged = True

    def staged_samples(self) -> int:
        """Samples appended since the last flush (a pop is flushed on its own: none then)."""
        return max(self.samples - int(self.flushed[1].size - 1), 0)

    def first_staged_items(self) -> int:
        """Items of the first sample appended since the last flush."""
        done = int(self.flushed[1].size - 1)
        return int(self.starts[done + 1] - self.starts[done]) if self.samples > done else 0

    @property
    def dirty(self) -> bool:
        return self.starts is not self.flushed[1]

    def table(self) -> np.ndarray:
        """The stored rows, extended by the staged samples as deeplake extends them: a sample
        with as many items as the last row's joins that row."""
        rows = [list(map(int, r)) for r in self.rows]
        done = int(rows[-1][2]) + 1 if rows else 0
        lengths = np.diff(self.starts)
        for i in range(done, lengths.size):
            n = int(lengths[i])
            if rows and rows[-1][0] == n:
                rows[-1][2] = i
            else:
                rows.append([n, int(self.starts[i]), i])
        return np.asarray(rows, dtype=np.uint32).reshape(-1, 3)

    def serialize(self) -> bytes:
        return _native.serialize_u32_encoder(FORMAT_VERSION, np.ascontiguousarray(self.table()))

    def pop(self, samples: list[int], rows: np.ndarray) -> None:
        """Samples ``samples`` removed (nothing staged); ``rows``: the stored rows after it."""
        keep = np.ones(self.samples, dtype=bool)
        keep[samples] = False
        lengths = np.diff(self.starts)[keep]
        starts = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        self.rows, self.starts = rows, starts

    def discard(self) -> None:
        self.rows, self.starts = self.flushed
        self.merged = False

    def stored(self, starts: np.ndarray) -> None:
        """The samples up to ``starts`` (the index as a flush wrote it) are stored."""
        now = self.starts
        self.starts = starts
        self.rows = self.table()
        self.flushed = (self.rows, starts)
        self.starts = now
        self.merged = False


def flatten(name: str, samples: Any) -> tuple[list[Any], list[int]]:
    """Sequence samples as their items one after another, and each sample's item count.
    Each sample is a list, tuple or array of items (an array: one item per row), or None
    for an empty sample."""
    items: list[Any] = []
    lengths: list[int] = []
    for i, sample in enumerate(samples):
        if sample is None:
            sample = []
        if isinstance(sample, np.ndarray):
            if sample.ndim == 0:
                raise SampleError(
                    f"sample {i} of sequence tensor {name!r} is a scalar array; a sample is a "
                    "list of items (or an array with one item per row)"
                )
            part = list(sample)
        elif isinstance(sample, list | tuple):
            part = list(sample)
        else:
            raise SampleError(
                f"sample {i} of sequence tensor {name!r} is {type(sample).__name__}; a "
                "sample is a list of items, e.g. t.append([frame0, frame1])"
            )
        items.extend(part)
        lengths.append(len(part))
    return items, lengths


_FLAT_SAMPLE = re.compile(r"\bsample (\d+)\b")


def prepare_items(
    t: TensorEngine, items: list[Any], lengths: list[int]
) -> tuple[Prepared, list[str]]:
    """Validate and convert the items of sequence samples as a plain tensor's samples; an
    error names the sample and the item within it, not the item's flat position."""
    try:
        return t.prepare(items)
    except SampleError as exc:
        starts = np.cumsum([0, *lengths])

        def where(m: re.Match[str]) -> str:
            k = int(m.group(1))
            i = int(np.searchsorted(starts, k, side="right")) - 1
            return f"sample {i} (its item {k - int(starts[i])})"

        raise SampleError(_FLAT_SAMPLE.sub(where, str(exc), count=1)) from None
