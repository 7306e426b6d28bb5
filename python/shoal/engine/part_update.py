"""Updating part of samples: ``t[i, a:b] = x``, ``t[i][2:4, :, 0] = x``.

deeplake reads the sample, assigns into the indexed part and writes the whole sample back as
an ordinary update (``chunk_engine._update_non_tiled_sample``; a tiled sample's tiles the
same way). shoal does the same: the samples are read (decoded, for compressed images), the
part assigned, and the new samples staged through ``editing.update``, which re-encodes them
and records them in the commit diff as updated, like any update.

Where deeplake's assignment is lax, shoal is strict: a value that would lose information in
the tensor's dtype, or that does not fit the indexed part's shape, is a ``SampleError`` and a
sub-index outside the sample a ``SampleIndexError``, before anything is staged. A value of
fewer dimensions than the part is aligned on the part's first axes, as deeplake aligns it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SampleError, SampleIndexError, ShoalError
from . import editing

if TYPE_CHECKING:
    from .dataset import DatasetEngine
    from .tensor import TensorEngine


def _check_tensor(t: TensorEngine) -> None:
    if t.kind.is_object or t.meta.get("is_link"):
        raise SampleError(
            f"tensor {t.name!r} is {t.htype!r}: its samples have no parts to assign; replace "
            f"the whole sample with t[i] = value"
        )
    if t.meta.get("is_sequence"):
        raise ShoalError(
            f"tensor {t.name!r} is a sequence tensor: replace its items (t[i][j] = item) or "
            "whole samples; parts of items are not updated (deeplake 3.9.52 would replace the "
            "whole item)"
        )


def _value(t: TensorEngine, value: Any, dtype: np.dtype) -> np.ndarray:
    """``value`` as an array of the tensor's dtype, refused if that would lose information."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise SampleError(f"tensor {t.name!r}: the value is not an array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise SampleError(
            f"tensor {t.name!r} stores {dtype}; the value has dtype {arr.dtype}, which cannot "
            "be stored"
        )
    if arr.dtype == dtype:
        return arr
    python_value = not isinstance(value, np.ndarray | np.generic)
    if np.can_cast(arr.dtype, dtype, "same_kind") or python_value:
        cast = arr.astype(dtype)
        if not python_value or np.array_equal(cast, arr):
            return cast
        raise SampleError(
            f"tensor {t.name!r} stores {dtype}; the value holds numbers that do not fit {dtype} "
            f"(e.g. {arr.flat[0]!r})"
        )
    raise SampleError(
        f"tensor {t.name!r} stores {dtype}; a value of dtype {arr.dtype} would lose "
        f"information. Cast it with .astype('{dtype}')"
    )


def assign(t: TensorEngine, sample: np.ndarray, sub: tuple[Any, ...], value: Any, i: int) -> None:
    """``sample[sub] = value`` in place, deeplake's alignment, shoal's checks."""
    _check_sub(t, sub)
    val = _value(t, value, sample.dtype)
    try:
        part = sample[sub]
    except IndexError as exc:
        raise SampleIndexError(
            f"tensor {t.name!r}: the part {_show(sub)} is outside sample {i} of shape "
            f"{sample.shape} ({exc})"
        ) from None
    if np.ndim(part) > val.ndim:  # deeplake aligns a shorter value on the part's first axes
        val = np.expand_dims(val, tuple(range(val.ndim, np.ndim(part))))
    try:
        sample[sub] = val
    except ValueError:
        raise SampleError(
            f"tensor {t.name!r}: a value of shape {val.shape} does not fit the part "
            f"{_show(sub)} of sample {i}, of shape {np.shape(part)}"
        ) from None


def _check_sub(t: TensorEngine, sub: tuple[Any, ...]) -> None:
    for s in sub:
        if s is Ellipsis or (isinstance(s, slice | int | np.integer) and not isinstance(s, bool)):
            continue
        if isinstance(s, list | tuple | np.ndarray) and np.asarray(s).dtype.kind in "iu":
            continue
        raise SampleIndexError(
            f"tensor {t.name!r}: {s!r} is not an index into a sample; use ints, slices, lists "
            "of ints or ..."
        )


def _show(sub: tuple[Any, ...]) -> str:
    def one(s: Any) -> str:
        if isinstance(s, slice):
            parts = ["" if v is None else str(v) for v in (s.start, s.stop)]
            return ":".join(parts) + ("" if s.step is None else f":{s.step}")
        return "..." if s is Ellipsis else repr(s)

    return "[" + ", ".join(one(s) for s in sub) + "]"


def per_sample(value: Any, n: int, name: str) -> list[Any]:
    """One value per selected sample (deeplake's ``make_sequence``)."""
    if n == 1:
        return [value]
    if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n:
        return list(value)
    if isinstance(value, list | tuple) and len(value) == n:
        return list(value)
    raise SampleError(
        f"{n} samples of tensor {name!r} are selected; give a list (or an array) of {n} values "
        "for their parts"
    )


async def update_part(
    ds: DatasetEngine, key: str, idx: np.ndarray, sub: tuple[Any, ...], value: Any
) -> None:
    """``t[idx, *sub] = value``: each selected sample read, assigned in part, and staged as an
    update (all or nothing)."""
    ds.check_writable()
    await ds.load([key])
    t = ds.tensors[key]
    _check_tensor(t)
    t.check_indices(idx)
    values = per_sample(value, idx.size, t.name)
    if len(set(idx.tolist())) != idx.size:
        raise SampleIndexError(
            f"the same sample of tensor {t.name!r} is selected twice; update each once"
        )
    if int(idx.max(initial=-1)) >= t.readable_stored:
        await ds.writes.flush()  # samples appended in this batch: written, then read back
    samples = [np.array(a, copy=True) for a in await t.read_arrays(idx)]
    for j, (sample, v) in enumerate(zip(samples, values, strict=True)):
        assign(t, sample, sub, v, int(idx[j]))
    await editing.update(ds, [(key, idx, samples)], part=True)
