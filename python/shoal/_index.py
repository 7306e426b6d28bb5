"""Indexes of tensor and dataset views: an int, a slice, or a list of ints, composable."""

from __future__ import annotations

from typing import Any

import numpy as np


class Index:
    """A selection of samples. ``None`` entries mean "everything" (length known at read time)."""

    __slots__ = ("_item",)

    def __init__(self, item: Any = None) -> None:
        self._item = _normalize(item)

    @property
    def is_scalar(self) -> bool:
        return isinstance(self._item, int)

    @property
    def is_full(self) -> bool:
        return self._item is None

    def resolve(self, length: int) -> np.ndarray:
        """The selected indices as int64, bounds-checked against ``length``."""
        item = self._item
        if item is None:
            return np.arange(length, dtype=np.int64)
        if isinstance(item, int):
            i = item + length if item < 0 else item
            if not 0 <= i < length:
                raise IndexError(f"index {item} is out of range for length {length}")
            return np.array([i], dtype=np.int64)
        if isinstance(item, slice):
            return np.arange(*item.indices(length), dtype=np.int64)
        arr: np.ndarray = np.where(item < 0, item + length, item)
        bad = (arr < 0) | (arr >= length)
        if bad.any():
            raise IndexError(f"index {int(item[bad][0])} is out of range for length {length}")
        return arr

    def length(self, length: int) -> int:
        item = self._item
        if item is None:
            return length
        if isinstance(item, int):
            return 1
        if isinstance(item, slice):
            return len(range(*item.indices(length)))
        return int(item.size)

    def compose(self, sub: Any, length: int) -> Index:
        """``self`` then ``sub`` (an index into the selection)."""
        if self._item is None:
            return Index(sub)
        if self.is_scalar:
            raise IndexError("cannot index a single sample further by sample; index its array")
        base = self.resolve(length)
        picked = Index(sub).resolve(base.size)
        out = Index()
        out._item = int(base[picked[0]]) if isinstance(_normalize(sub), int) else base[picked]
        return out

    @property
    def values(self) -> list[IndexEntry]:
        """deeplake's form of an index, for code that reads it: one entry (the sample axis)
        whose ``value`` is an int, a slice, or a tuple of ints."""
        item = self._item
        if item is None:
            return [IndexEntry(slice(None))]
        if isinstance(item, int | slice):
            return [IndexEntry(item)]
        return [IndexEntry(tuple(int(i) for i in item))]

    def is_trivial(self) -> bool:
        """Whether every sample is selected."""
        return self._item is None

    def __repr__(self) -> str:
        return f"Index({self._item!r})"


class IndexEntry:
    """One axis of an :class:`Index` in deeplake's form: ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: int | slice | tuple[int, ...]) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"IndexEntry({self.value!r})"


def _normalize(item: Any) -> Any:
    if item is None or isinstance(item, slice):
        return item
    if isinstance(item, (bool, np.bool_)):
        raise TypeError("a boolean is not a sample index")
    if isinstance(item, (int, np.integer)):
        return int(item)
    if isinstance(item, range):
        return slice(item.start, item.stop, item.step)
    try:
        arr = np.asarray(item)
    except Exception:
        raise TypeError(f"cannot index samples with {type(item).__name__}") from None
    if arr.dtype == bool:
        return np.flatnonzero(arr).astype(np.int64)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError(
            f"sample indexes are an int, a slice, or a 1-D list of ints; got {type(item).__name__}"
        )
    return arr.astype(np.int64)


# ``np.unique`` is avoided on read paths: numpy 2 imports ``numpy.ma`` on its first call (tens
# of milliseconds, paid on the event loop's thread by the first batch or read of a process).
def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d array (``np.unique(values)``)."""
    ordered = np.sort(values, kind="stable")
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def distinct_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of a 1-d array: the sorted distinct values
    and, for each value, the position of its value among them."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    keep = np.empty(ordered.size, dtype=bool)
    if ordered.size:
        keep[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    inverse = np.empty(values.size, dtype=np.intp)
    inverse[order] = np.cumsum(keep) - 1
    return ordered[keep], inverse
