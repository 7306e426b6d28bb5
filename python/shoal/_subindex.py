"""Indexing inside samples, as deeplake allows it: ``t[i, 1:3]``, ``t[:, 0, 0]``,
``t[i][2:, ::2]``. A tensor view keeps the sample selection (an :class:`~shoal._index.Index`)
and, apart, the index operations to apply to each sample's array once it is read; reads apply
them, in order, to every sample selected."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DynamicShapeError

Ops = tuple[Any, ...]  # each one numpy index (an int, slice, tuple, list, ...) of a sample


def split(item: Any) -> tuple[Any, Ops]:
    """``t[item]`` of a view of several samples: the sample part and the within-sample op."""
    if isinstance(item, tuple):
        if not item:
            return slice(None), ()
        rest = item[1:]
        return item[0], ((rest if len(rest) > 1 else rest[0]),) if rest else ()
    return item, ()


def apply_one(arr: np.ndarray, ops: Ops) -> np.ndarray:
    for op in ops:
        arr = arr[op]
    return np.asarray(arr)


def apply(value: Any, ops: Ops, scalar: bool, aslist: bool, name: str) -> Any:
    """``value`` as read (one array, a list of arrays, or a stacked batch) with ``ops``
    applied to each sample."""
    if not ops:
        return value
    if scalar:
        return apply_one(value, ops)
    parts = [apply_one(a, ops) for a in value]
    if aslist:
        return parts
    if len({p.shape for p in parts}) > 1:
        raise DynamicShapeError(
            f"tensor {name!r}: the indexed samples differ in shape; read them with "
            "numpy(aslist=True)"
        )
    if not parts:
        return np.asarray(value)
    return np.stack(parts)


def dims(low: list[int], high: list[int], ops: Ops) -> tuple[int | None, ...]:
    """A sample's dims after ``ops``, from the smallest and largest sample shapes: an axis
    whose size differs between the two is None."""
    if not ops:
        return tuple(a if a == b else None for a, b in zip(low, high, strict=False))
    small = _shape_after(low, ops)
    large = _shape_after(high, ops)
    if small is None or large is None or len(small) != len(large):
        return tuple(None for _ in (large or small or ()))
    return tuple(a if a == b else None for a, b in zip(small, large, strict=True))


def _shape_after(shape: list[int], ops: Ops) -> tuple[int, ...] | None:
    # a zero-stride view of the shape: indexing it allocates nothing for slices and ints
    probe = np.broadcast_to(np.zeros((), dtype=bool), tuple(int(d) for d in shape))
    try:
        return tuple(apply_one(probe, ops).shape)
    except IndexError:
        return None  # the op fits some samples only: the read says which
