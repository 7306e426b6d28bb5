"""Reading sequence tensors as deeplake 3.9.52 shows them.

A sample is a list of items: ``t[i].numpy()`` stacks sample ``i``'s items (``aslist=True``: a
list of them), ``t[i][j]`` (or ``t[i, j]``) is one item and ``t[i][a:b]`` some of them;
``t[a:b].numpy(aslist=True)`` is one list of items per sample and ``t[a:b].numpy()`` an
``(n, items, *item_shape)`` array when every sample has as many items of one shape. The
engine reads items by their flat index (``engine.sequences``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._index import Index
from .engine.assemble import stack_equal
from .errors import DynamicShapeError

if TYPE_CHECKING:
    from .engine.tensor import TensorEngine
    from .tensor import AsyncTensor


def _seq(e: TensorEngine) -> Any:
    assert e.seq is not None, "a sequence tensor's index loads with its meta"
    return e.seq


def item_count(e: TensorEngine, sample: int) -> int:
    starts = _seq(e).starts
    return int(starts[sample + 1] - starts[sample])


def sub_index(view: AsyncTensor, item: Any) -> Index:
    """``view[item]`` on one sample of a sequence tensor: a selection of its items."""
    if view._items is not None and view._items.is_scalar:
        raise IndexError(
            f"t[i][j] is one item of sequence tensor {view.name!r}; index its array instead"
        )
    n = item_count(view._engine, int(view._indices()[0]))
    return (view._items or Index()).compose(item, n)


async def _flat_values(e: TensorEngine, flat: np.ndarray, stacked: bool) -> list[Any]:
    """Items ``flat`` as arrays (object htypes: decoded objects)."""
    if e.kind.is_object:
        return [e.kind.decode(b, e.name) for b in await e.read_blobs(flat)]
    if stacked and flat.size:
        return list(await e.read_stacked(flat))
    return await e.read_arrays(flat)


def _empty(e: TensorEngine) -> np.ndarray:
    if e.kind.is_object:
        out: np.ndarray = e.kind.numpy_form([], False, False)
        return out
    ndim = len(e.meta.get("max_shape") or [])
    return np.zeros((0,) * (ndim + 1), dtype=e.dtype or np.float32)


def _group(e: TensorEngine, values: list[Any], aslist: bool) -> Any:
    """One sample's items as ``numpy()`` gives them."""
    if e.kind.is_object:
        return e.kind.numpy_form(values, False, aslist) if values or aslist else _empty(e)
    if aslist:
        return list(values)
    if not values:
        return _empty(e)
    return stack_equal(values, e.name, "items")


async def numpy(view: AsyncTensor, aslist: bool) -> Any:
    e = view._engine
    seq = _seq(e)
    idx = view._indices()
    if view._items is not None:  # items of one sample
        start = int(seq.starts[int(idx[0])])
        picked = view._items.resolve(item_count(e, int(idx[0])))
        values = await _flat_values(e, start + picked, e.fixed_shape and not aslist)
        if view._items.is_scalar:
            return e.kind.numpy_form(values, True, False) if e.kind.is_object else values[0]
        return _group(e, values, aslist)
    lengths = seq.lengths(idx)
    values = await _flat_values(e, seq.flat(idx), e.fixed_shape and not aslist)
    groups: list[list[Any]] = []
    pos = 0
    for n in lengths.tolist():
        groups.append(values[pos : pos + n])
        pos += n
    if view._index.is_scalar:
        return _group(e, groups[0], aslist)
    if aslist:
        return [_group(e, g, True) for g in groups]
    if len(set(lengths.tolist())) > 1:
        raise DynamicShapeError(
            f"sequence tensor {e.name!r}: the samples asked for have different numbers of items "
            f"(e.g. {int(lengths.min())} and {int(lengths.max())}); use .numpy(aslist=True)"
        )
    if not groups:
        return np.zeros((0, 0, *(e.meta.get("max_shape") or [])), dtype=e.dtype or np.float32)
    return np.stack([_group(e, g, False) for g in groups])


def shape(view: AsyncTensor) -> tuple[int | None, ...]:
    """``t.shape``: ``(samples, items, *item_shape)``, None where it varies; of one sample,
    ``(items, *item_shape)``; of one item, its shape."""
    e = view._engine
    dims = view._dims()
    if view._items is not None:
        if view._items.is_scalar:
            return dims
        n = view._items.length(item_count(e, int(view._indices()[0])))
        return (n, *dims)
    if not _seq(e).samples and not view._index.is_scalar:
        return (0, 0)  # deeplake's shape of a sequence tensor with no samples
    idx = view._indices()
    lengths = set(_seq(e).lengths(idx).tolist())
    items = lengths.pop() if len(lengths) == 1 else None
    if view._index.is_scalar:
        return (items, *dims)
    return (len(view), items, *dims)


async def _object_groups(view: AsyncTensor) -> list[list[Any]] | list[Any]:
    """Decoded items of an object htype: one sample's, or a list per sample."""
    e = view._engine
    seq = _seq(e)
    idx = view._indices()
    if view._items is not None:
        start = int(seq.starts[int(idx[0])])
        picked = view._items.resolve(item_count(e, int(idx[0])))
        values = await _flat_values(e, start + picked, False)
        return values[0] if view._items.is_scalar else values
    values = await _flat_values(e, seq.flat(idx), False)
    groups, pos = [], 0
    for n in seq.lengths(idx).tolist():
        groups.append(values[pos : pos + n])
        pos += n
    return groups[0] if view._index.is_scalar else groups


async def objects(view: AsyncTensor) -> Any:
    """``text()`` / ``dict()`` of a ``sequence[text]`` or ``sequence[json]`` tensor: a list
    of the sample's items (one list per sample for several)."""
    from .errors import ShoalError

    e = view._engine
    if not e.kind.is_object:
        raise ShoalError(
            f"text()/dict() read text or json items; tensor {view.name!r} is {e.htype!r}"
        )
    return await _object_groups(view)


async def data(view: AsyncTensor, aslist: bool) -> dict[str, Any]:
    """``data()``: ``{"value": ...}`` (class labels add ``"text"``), per sample."""
    e = view._engine
    if e.kind.is_object:
        return {"value": await _object_groups(view)}
    value = await numpy(view, aslist)
    one = view._index.is_scalar
    if view._items is not None and view._items.is_scalar:
        return e.kind.data_form(value, e.info, True)
    if one:
        return e.kind.data_form(value, e.info, False)
    parts = [e.kind.data_form(v, e.info, False) for v in value]
    return {k: [p[k] for p in parts] for k in parts[0]} if parts else {"value": value}
