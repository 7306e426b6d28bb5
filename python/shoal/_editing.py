"""Editing samples, as deeplake users do it: ``ds.append({...})``, ``ds.extend({...})``,
``t[i] = x``, ``ds[i].update({...})``, ``t.pop(i)``, ``ds.pop([i, j])``.

Mixins of the dataset and tensor classes; the engine side is ``engine.editing``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _filter_query, _loop
from .engine import editing, part_update
from .engine.staging import ensure_samples
from .errors import SampleError, ShoalError, TensorNotFoundError, is_bad_sample

if TYPE_CHECKING:
    from .dataset import AsyncDataset, Dataset
    from .engine.tensor import TensorEngine
    from .tensor import AsyncTensor


def values_for(view: AsyncTensor, value: Any) -> list[Any] | np.ndarray:
    """The samples for the selected indices of ``view``: one per index."""
    if view._index.is_scalar:
        return [value]
    n = len(view)
    if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n:
        return value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and len(value) == n:
        return list(value)
    if n == 1:
        return [value]
    raise SampleError(
        f"{n} samples of tensor {view.name!r} are selected; give a list (or an array) of {n} "
        f"values, got {type(value).__name__}"
    )


def split_item(view: AsyncTensor, item: Any) -> tuple[AsyncTensor, tuple[Any, ...] | None]:
    """``t[item] = ...`` as (the samples selected, the index into each sample or None)."""
    if view._index.is_scalar:  # t[i][sub] = x: everything indexes into the sample
        return view, item if isinstance(item, tuple) else (item,)
    if isinstance(item, tuple):
        if not item:
            return view, None
        rest = tuple(item[1:])
        return view[item[0]], rest or None
    return view[item], None


def setitem_now(view: AsyncTensor, item: Any, value: Any) -> bool:
    """A sync ``t[item] = value`` that replaces whole samples, done on the caller's thread
    when it needs no I/O (``editing.update_now``); inside ``with ds:`` it is staged there
    like an append, and written when the block ends. False: nothing was done."""
    if view._items is not None or view.is_sequence:
        return False
    target, sub = split_item(view, item)
    if sub is not None:
        return False
    engine = view._ds._engine
    edit = (target._key, target._indices(), values_for(target, value))
    if not editing.update_now(engine, [edit]):
        return False
    engine.writes.after_write_sync()
    return True


def empty_sample(t: TensorEngine) -> Any:
    """What ``append_empty`` appends: an empty sample of the tensor's dimensions."""
    if t.htype == "text":
        return ""
    if t.htype == "json":
        return {}
    if t.kind.is_object:
        return []
    ndim = len(t.meta.get("min_shape") or []) or 1
    return np.zeros((0,) * ndim, dtype=t.dtype or np.float32)


class AsyncTensorEditing:
    """Updates and pops of a tensor or tensor view."""

    async def update_async(self: AsyncTensor, value: Any) -> None:  # type: ignore[misc]
        """Replace the selected samples: ``await ds.labels[3].update_async(7)``."""
        engine = self._ds._engine
        idx = self._indices()
        if self._sub:  # t[i, 1:3].update(x): part of the samples, as t[i, 1:3] = x
            if len(self._sub) > 1:
                raise ShoalError(
                    f"tensor {self.name!r}: this view indexes inside its samples more than "
                    "once; write the part with one index: t[i, a:b, c] = value"
                )
            inside = self._sub[0] if isinstance(self._sub[0], tuple) else (self._sub[0],)
            await part_update.update_part(engine, self._key, idx, inside, value)
        else:
            await editing.update(engine, [(self._key, idx, values_for(self, value))])
        await engine.writes.after_write()

    async def setitem_async(self: AsyncTensor, item: Any, value: Any) -> None:  # type: ignore[misc]
        """``t[item] = value``: ``await t.setitem_async(3, x)`` replaces a sample,
        ``await t.setitem_async((3, slice(2, 4)), x)`` part of one (``t[3, 2:4] = x``). On a
        one-sample view (``t[3]``), ``item`` indexes into the sample."""
        if self._items is not None:  # t[i][j][k] = x: into an item of a sequence
            raise ShoalError(
                f"sequence tensor {self.name!r}: t[i][j][...] = x would change part of an item, "
                "which deeplake 3.9.52 does not do (it replaces the whole item with x); nothing "
                "was changed. Replace the item: t[i][j] = new_item"
            )
        if self._sub:
            raise ShoalError(
                f"tensor {self.name!r}: this view already indexes inside its samples; assign "
                "with one index instead: t[i, a:b, c] = value"
            )
        view, sub = split_item(self, item)
        if sub is None:
            await view.update_async(value)
            return
        engine = self._ds._engine
        if self.is_sequence:  # t[i][j] = item, t[i, a:b] = items
            if not view._index.is_scalar:
                raise ShoalError(
                    f"sequence tensor {self.name!r}: t[i, j] = x replaces items of one sample; "
                    "select one sample (t[i][j] = x), or replace whole samples (t[a:b] = [...])"
                )
            await editing.update_items(engine, view._key, int(view._indices()[0]), sub, value)
            await engine.writes.after_write()
            return
        await part_update.update_part(engine, view._key, view._indices(), sub, value)
        await engine.writes.after_write()

    async def pop_async(self: AsyncTensor, index: Any = None) -> None:  # type: ignore[misc]
        """Remove samples (default: the last), written at once; later samples move down."""
        if not self._index.is_full:
            raise ShoalError(f"pop works on the whole tensor, not a view; use ds.{self.name}.pop")
        engine = self._ds._engine
        engine.check_writable()
        indices = editing.check_pop_indices(index, self._engine.samples, f"tensor {self.name!r}")
        if indices:
            await editing.pop(engine, [self._key], indices)

    async def clear_async(self: AsyncTensor) -> None:  # type: ignore[misc]
        """Remove every sample of the tensor (its meta and info stay), written at once; the
        commit diff records them as popped."""
        if not self._index.is_full:
            raise ShoalError(
                f"clear works on the whole tensor, not a view; use ds.{self.name}.clear"
            )
        engine = self._ds._engine
        engine.check_writable()
        count = self._engine.samples
        if count:
            await editing.pop(engine, [self._key], list(range(count - 1, -1, -1)))


class AsyncDatasetEditing:
    """Appends across tensors, updates of samples, pops of rows."""

    def _columns(  # type: ignore[misc]
        self: AsyncDataset, samples: dict[str, Any], skip_ok: bool, append_empty: bool, one: bool
    ) -> dict[str, Any]:
        self._check_root("append/extend")
        if not isinstance(samples, dict):
            raise SampleError(
                "ds.append/ds.extend take a dict of {tensor name: value(s)}; to add to one "
                "tensor use ds.<tensor>.append"
            )
        names = self._tensor_names()
        for k in samples:
            if k not in names:
                raise TensorNotFoundError(f"no tensor named {k!r} in {self.path}; tensors: {names}")
        missing = [n for n in names if n not in samples]
        if missing and not skip_ok and not append_empty:
            raise SampleError(
                f"no values for tensors {missing}; pass skip_ok=True to leave them alone or "
                "append_empty=True to give them empty samples"
            )
        cols = {k: [v] if one else ensure_samples(v, k) for k, v in samples.items()}
        lengths = {k: len(v) for k, v in cols.items()}
        n = max(lengths.values(), default=0)
        if len(set(lengths.values())) > 1 and not append_empty:
            raise SampleError(
                f"the tensors get different numbers of samples {lengths}; give each the same "
                "number, or pass append_empty=True to pad the shorter ones"
            )
        engine = self._engine
        await_keys = [self._key(k) for k in (names if append_empty else samples)]
        for key in await_keys:
            if key not in engine.tensors:
                return {}  # the caller loads them and asks again
        current = {engine.tensors[key].samples for key in await_keys}
        if len(current) > 1:
            raise SampleError(
                "the tensors being appended to have different lengths; ds.append and ds.extend "
                "need them equal (append to each tensor on its own instead)"
            )
        out: dict[str, Any] = {}
        for name in names:
            if name in cols:
                v = cols[name]
                pad = n - len(v)
                key = self._key(name)
                out[key] = list(v) + [empty_sample(engine.tensors[key])] * pad if pad else v
            elif append_empty:
                key = self._key(name)
                out[key] = [empty_sample(engine.tensors[key])] * n
        return out

    async def extend_async(  # type: ignore[misc]
        self: AsyncDataset,
        samples: dict[str, Any],
        skip_ok: bool = False,
        append_empty: bool = False,
        ignore_errors: bool = False,
        progressbar: bool = False,
    ) -> None:
        """Append rows: ``{tensor name: samples}``, all of one length. All or nothing: a bad
        value in any tensor leaves every tensor as it was; with ``ignore_errors``, a row with
        a bad value is skipped whole and the others appended, as deeplake does.
        ``progressbar`` is accepted for deeplake's signature (no bar is drawn)."""
        try:
            await self._append_rows(samples, skip_ok, append_empty, one=False)
        except Exception as exc:
            if not (ignore_errors and is_bad_sample(exc) and isinstance(samples, dict)):
                raise
            columns = {k: list(ensure_samples(v, k)) for k, v in samples.items()}
            lengths = {len(v) for v in columns.values()}
            if len(lengths) > 1:
                raise  # columns of unequal lengths: not a bad sample, a bad call
            rows = [
                {k: v[i] for k, v in columns.items()}
                for i in range(lengths.pop() if lengths else 0)
            ]

            async def append(row: list[dict[str, Any]]) -> None:
                await self._append_rows(row[0], skip_ok, append_empty, one=True)

            await each_skipping_bad_async(rows, append)

    async def append_async(  # type: ignore[misc]
        self: AsyncDataset,
        sample: dict[str, Any],
        skip_ok: bool = False,
        append_empty: bool = False,
    ) -> None:
        """Append one row: ``{tensor name: sample}``. All or nothing."""
        await self._append_rows(sample, skip_ok, append_empty, one=True)

    async def _append_rows(  # type: ignore[misc]
        self: AsyncDataset, samples: dict[str, Any], skip_ok: bool, append_empty: bool, one: bool
    ) -> None:
        engine = self._engine
        engine.check_writable()
        await engine.load([self._key(n) for n in self._tensor_names()])
        cols = self._columns(samples, skip_ok, append_empty, one)
        if cols and any(len(v) for v in cols.values()):
            await editing.extend_columns(engine, cols)
            await engine.writes.after_write()

    async def update_async(self: AsyncDataset, sample: dict[str, Any]) -> None:  # type: ignore[misc]
        """Replace the values of this view's samples: ``ds[3].update({"labels": 1})``. All
        or nothing across the tensors."""
        if self._index.is_full:
            raise ShoalError("update works on a view of samples: ds[i].update({...})")
        if not isinstance(sample, dict):
            raise SampleError("update takes a dict of {tensor name: value(s)}")
        edits = []
        engine = self._engine
        await engine.load([self._key(k) for k in sample])
        for name, value in sample.items():
            view = self._tensor(name)
            edits.append((view._key, view._indices(), values_for(view, value)))
        await editing.update(engine, edits)
        await engine.writes.after_write()

    async def pop_async(self: AsyncDataset, index: Any = None) -> None:  # type: ignore[misc]
        """Remove rows from every tensor (default: the last row of the longest tensor);
        written at once. Later rows move down."""
        self._check_root("pop")
        engine = self._engine
        engine.check_writable()
        keys = [self._key(n) for n in self._tensor_names()]
        await engine.load(keys)
        longest = max((engine.tensors[k].samples for k in keys), default=0)
        indices = editing.check_pop_indices(index, longest, "the dataset")
        if indices:
            await editing.pop(engine, keys, indices)

    async def rechunk_async(  # type: ignore[misc]
        self: AsyncDataset, tensors: str | list[str] | None = None, **_: Any
    ) -> None:
        """Cut the chunks of ``tensors`` (default: every one) again to even sizes, after many
        updates or pops left them uneven; written at once. deeplake's scheduling options are
        accepted and ignored."""
        self._check_root("rechunk")
        names = [tensors] if isinstance(tensors, str) else tensors or self._tensor_names()
        await editing.rechunk(self._engine, [self._key(n) for n in names])

    async def filter_async(  # type: ignore[misc]
        self: AsyncDataset, function: Any, **_: Any
    ) -> AsyncDataset:
        """A view of the samples for which ``function(sample)`` is true (``sample``: the
        one-sample view ``ds[i]``), or for which a query string as deeplake's is true
        (``"labels == 'dog' and x.mean > 0.5"``). deeplake's worker options are accepted and
        ignored."""
        if isinstance(function, str):
            found: AsyncDataset = self[await _filter_query.matching(self, function)]
            return found
        if not callable(function):
            raise ShoalError(
                "filter takes a function of one sample returning a bool, or a query string "
                f"(got {type(function).__name__})"
            )
        keep = []
        for i in range(len(self)):
            if await function(self[i]) if _is_coroutine_fn(function) else function(self[i]):
                keep.append(i)
        view: AsyncDataset = self[keep]
        return view

    @property
    def max_len(self: AsyncDataset) -> int:  # type: ignore[misc]
        """Length of the longest tensor (in this view)."""
        return self._index.length(max(self._lengths(), default=0))

    @property
    def min_len(self: AsyncDataset) -> int:  # type: ignore[misc]
        """Length of the shortest tensor (in this view)."""
        return self._index.length(min(self._lengths(), default=0))

    def _lengths(self: AsyncDataset) -> list[int]:  # type: ignore[misc]
        engine = self._engine
        return [engine.loaded(self._key(n)).samples for n in self._tensor_names()]


def _is_coroutine_fn(fn: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


async def each_skipping_bad_async(
    batch: Sequence[Any], write: Callable[[list[Any]], Awaitable[object]]
) -> None:
    """``ignore_errors=True`` after a batch failed (and so changed nothing): write its items
    one at a time, skipping the bad ones, as deeplake does."""
    for item in batch:
        try:
            await write([item])
        except Exception as exc:
            if not is_bad_sample(exc):
                raise


def each_skipping_bad(batch: Sequence[Any], write: Callable[[list[Any]], object]) -> None:
    """:func:`each_skipping_bad_async` for the sync façade."""
    for item in batch:
        try:
            write([item])
        except Exception as exc:
            if not is_bad_sample(exc):
                raise


class DatasetEditing:
    """The sync façade's edits (``Dataset``): each runs its ``_async`` twin."""

    def append(  # type: ignore[misc]
        self: Dataset, sample: dict[str, Any], skip_ok: bool = False, append_empty: bool = False
    ) -> None:
        """Append one row ``{tensor name: sample}`` (all or nothing)."""
        _loop.run(self._a.append_async(sample, skip_ok, append_empty))

    def extend(  # type: ignore[misc]
        self: Dataset,
        samples: dict[str, Any],
        skip_ok: bool = False,
        append_empty: bool = False,
        ignore_errors: bool = False,
        progressbar: bool = False,
    ) -> None:
        """Append rows ``{tensor name: samples}`` of equal lengths (all or nothing; with
        ``ignore_errors``, rows with a bad value are skipped)."""
        _loop.run(self._a.extend_async(samples, skip_ok, append_empty, ignore_errors, progressbar))

    def update(self: Dataset, sample: dict[str, Any]) -> None:  # type: ignore[misc]
        """Replace this view's samples: ``ds[i].update({"labels": 1})`` (all or nothing)."""
        _loop.run(self._load_visible().update_async(sample))

    def pop(self: Dataset, index: Any = None) -> None:  # type: ignore[misc]
        """Remove rows from every tensor (default: the last), written at once."""
        _loop.run(self._a.pop_async(index))

    def rechunk(  # type: ignore[misc]
        self: Dataset, tensors: str | list[str] | None = None, **options: Any
    ) -> None:
        """Cut the chunks of ``tensors`` (default: all) again to even sizes; written at once."""
        _loop.run(self._a.rechunk_async(tensors, **options))

    def filter(self: Dataset, function: Any, **options: Any) -> Dataset:  # type: ignore[misc]
        """A view of the samples for which ``function(ds[i])`` is true (``ds[i]``: a
        one-sample view), or for which a query string as deeplake's is true
        (``"labels == 'dog'"``). deeplake's worker options are accepted and ignored."""
        if isinstance(function, str):
            found = _loop.run(_filter_query.matching(self._load_visible(), function))
            result_view: Dataset = self[found]
            return result_view
        if not callable(function):
            raise ShoalError(
                "filter takes a function of one sample returning a bool, or a query string "
                f"(got {type(function).__name__})"
            )
        view = self._load_visible()
        keep = [i for i in range(len(view)) if function(self[i])]
        result: Dataset = self[keep]
        return result

    @property
    def max_len(self: Dataset) -> int:  # type: ignore[misc]
        """The longest tensor's length (in this view)."""
        return self._load_visible().max_len

    @property
    def min_len(self: Dataset) -> int:  # type: ignore[misc]
        """The shortest tensor's length (in this view)."""
        return self._load_visible().min_len
