"""``tensor.shapes()``: the shape of every sample of a tensor or view, as deeplake's
``Tensor.shapes()`` gives it (an int32 array, one row per sample).

The shapes come from what is already known when it is enough (a tensor whose samples all
have one shape, or whose samples are objects: text, json, ...), else from the hidden
``_<tensor>_shape`` tensor deeplake keeps next to most tensors, and only when a tensor has
none from the samples themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .tensor import AsyncTensor

SHAPE_EXTENDS = ("extend_shape", "extend_len")  # a list tensor's companion holds lengths


async def sample_shapes(view: AsyncTensor) -> Any:
    """An int32 array ``(samples, ndim)`` (one row for one sample); for a sequence tensor a
    list of ``(items, ndim)`` arrays, one per sample (for one sample, ``(1, items, ndim)``).
    deeplake gives the same, but for a whole sequence tensor mixes the samples' rows up."""
    e = view._engine
    idx = view._indices()
    ds = view._ds._engine
    holder_key = next(
        (k for k, v in (e.meta.get("links") or {}).items() if v.get("extend") in SHAPE_EXTENDS),
        None,
    )
    if holder_key is not None:
        await ds.load([holder_key], full=True)
    holder = ds.tensors.get(holder_key) if holder_key is not None else None
    seq = e.seq
    if seq is not None:
        if holder is not None:
            flat = (await holder.read_arrays(seq.flat(idx))) if len(idx) else []
            rows = [np.asarray(a, dtype=np.int32).reshape(-1) for a in flat]
        else:
            rows = [
                _shape_row(a)
                for sample in await e.read_arrays(seq.flat(idx))
                for a in ([sample] if not isinstance(sample, list) else sample)
            ]
        groups, pos = [], 0
        for n in seq.lengths(idx).tolist():
            groups.append(_stack(rows[pos : pos + n], len(e.meta.get("max_shape") or [])))
            pos += n
        if not view._index.is_scalar:
            return groups
        items = view._items  # t[i][a:b]: some items of one sample
        if items is None:  # one sample: its rows, in a sample axis of one (as deeplake)
            return groups[0][None]
        return groups[0][np.atleast_1d(items.resolve(len(groups[0])))]
    ndim = len(e.meta.get("max_shape") or [])
    if e.kind.is_object and holder is None:
        if e.htype in ("text", "json"):  # one value per sample
            return np.ones((len(idx), 1), dtype=np.int32)
        # tags (no shape companion): their lengths, from the samples
        values = [e.kind.decode(b, e.name) for b in await e.read_blobs(idx)]
        return _stack([np.asarray(e.kind.value_shape(v), np.int32) for v in values], ndim or 1)
    dims = view._dims()
    if dims and None not in dims:  # every sample has the tensor's one shape
        return np.tile(np.asarray(dims, dtype=np.int32), (len(idx), 1))
    if holder is not None:
        got = await holder.read_arrays(idx) if len(idx) else []
        return _stack([np.asarray(a, dtype=np.int32).reshape(-1) for a in got], ndim)
    return _stack([_shape_row(a) for a in await e.read_arrays(idx)], ndim)


def _shape_row(array: np.ndarray) -> np.ndarray:
    return np.asarray(np.shape(array), dtype=np.int32)


def _stack(rows: list[np.ndarray], ndim: int) -> np.ndarray:
    if not rows:
        return np.zeros((0, ndim), dtype=np.int32)
    return np.stack(rows).astype(np.int32, copy=False)


class ShapeInterval:
    """The smallest and largest size of every axis of a tensor or view, the sample count
    first: deeplake's ``tensor.shape_interval``. ``str()`` gives ``(2, 10, 10:15)``;
    ``astuple()`` what ``tensor.shape`` gives (None where the bounds differ)."""

    __slots__ = ("_lower", "_upper")

    def __init__(self, lower: Any, upper: Any = None) -> None:
        self._lower = tuple(int(x) for x in lower)
        self._upper = tuple(int(x) for x in (lower if upper is None else upper))
        if len(self._lower) != len(self._upper):
            raise ValueError(f"shape bounds of unequal length: {self._lower} and {self._upper}")

    @property
    def lower(self) -> tuple[int, ...]:
        return self._lower

    @property
    def upper(self) -> tuple[int, ...]:
        return self._upper

    @property
    def is_dynamic(self) -> bool:
        return self._lower != self._upper

    def astuple(self) -> tuple[int | None, ...]:
        return tuple(
            lo if lo == hi else None for lo, hi in zip(self._lower, self._upper, strict=True)
        )

    def __str__(self) -> str:
        parts = [
            str(lo) if lo == hi else f"{lo}:{hi}"
            for lo, hi in zip(self._lower, self._upper, strict=True)
        ]
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ShapeInterval):
            return False
        return (self._lower, self._upper) == (other._lower, other._upper)

    def __hash__(self) -> int:
        return hash((self._lower, self._upper))


async def shape_interval(view: AsyncTensor) -> ShapeInterval:
    """As deeplake computes it: a whole tensor (or one whose samples all have one shape, or
    an empty selection) from the bounds its meta keeps, which a later update that shrinks a
    sample does not narrow; a selection from its samples' shapes."""
    e = view._engine
    meta = e.meta
    low = [int(x) for x in meta.get("min_shape") or []]
    high = [int(x) for x in meta.get("max_shape") or []]
    seq = e.seq
    idx = view._indices()
    n = len(idx)
    if view._index.is_full or low == high or n == 0:
        if seq is None:
            return ShapeInterval([n, *low], [n, *high])
        counts = seq.lengths(np.arange(e.samples, dtype=np.int64))  # all, as deeplake
        few, many = (int(counts.min()), int(counts.max())) if len(counts) else (0, 0)
        return ShapeInterval([n, few, *low], [n, many, *high])
    shapes = await sample_shapes(view)
    if seq is None:
        rows = np.asarray(shapes).reshape(n, -1)
        return ShapeInterval([n, *rows.min(axis=0)], [n, *rows.max(axis=0)])
    groups = [np.asarray(g).reshape(len(g), -1) for g in shapes]
    items = [len(g) for g in groups]
    flat = np.concatenate([g for g in groups if len(g)]) if any(items) else np.zeros((1, 0))
    return ShapeInterval([n, min(items), *flat.min(axis=0)], [n, max(items), *flat.max(axis=0)])
