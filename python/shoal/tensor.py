"""Tensors: ``AsyncTensor``, the object model for async code, and ``Tensor``, the sync façade
over it.

In an ``AsyncTensor`` nothing that is not awaited does I/O: the meta and info of every visible
tensor are loaded when the dataset is opened with ``await shoal.load_async(...)``, so ``len``,
``shape``, ``htype`` and ``info`` are plain attribute reads and every read or write is a
coroutine (``await t.numpy_async()``). ``Tensor`` runs those coroutines on shoal's background
loop (loading a tensor's meta on first use) and keeps each ``_async`` twin.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _loop, _sequence, _shapes, _subindex
from ._deeplake_attrs import AsyncTensorAttrs, SyncTensorAttrs
from ._editing import (
    AsyncTensorEditing,
    setitem_now,
)
from ._index import Index
from ._meta import TensorMeta
from ._sample_info import AsyncSampleInfo, SyncSampleInfo
from ._tensor_appends import AsyncTensorAppends, TensorAppends
from .engine.tensor import TensorEngine
from .errors import ShoalError, TensorNotFoundError
from .format.htypes import get_htype, known_htypes
from .info import Info
from .links.tensor_api import AsyncLinkMethods, SyncLinkMethods

if TYPE_CHECKING:
    from .dataset import AsyncDataset, Dataset


class AsyncTensor(
    AsyncTensorEditing, AsyncLinkMethods, AsyncSampleInfo, AsyncTensorAttrs, AsyncTensorAppends
):
    """A tensor (``ds.images``) or a view of some of its samples (``ds.images[10:20]``)."""

    def __init__(
        self,
        dataset: AsyncDataset,
        key: str,
        index: Index | None = None,
        items: Index | None = None,
        sub: _subindex.Ops = (),
    ) -> None:
        self._ds = dataset
        self._key = key
        self._index = index or Index()
        self._items = items  # a sequence tensor's items, within the one sample selected
        self._sub = sub  # indexes applied inside each sample read (t[i, 1:3], t[:, 0])
        if not self._index.is_full:
            dataset._engine.open_views.add(self)  # delete_tensor refuses while it lives

    # -- identity ----------------------------------------------------------------------------
    @property
    def _engine(self) -> TensorEngine:
        found = self._ds._engine.tensors.get(self._key)
        if found is None:  # gone after a checkout, or a failed create
            raise TensorNotFoundError(
                f"tensor {self._key!r} does not exist in {self._ds.path} at this version"
            )
        return found

    @property
    def name(self) -> str:
        return self._engine.name

    @property
    def key(self) -> str:
        return self._key

    @property
    def htype(self) -> str:
        return self._engine.htype

    @property
    def base_htype(self) -> str:
        """The htype of the samples themselves: ``image`` for ``link[image]`` or
        ``sequence[image]``."""
        return str(self._engine.meta.get("htype") or "generic")

    @property
    def dtype(self) -> np.dtype | None:
        e = self._engine
        return e.kind.public_dtype(e.dtype)

    @property
    def meta(self) -> TensorMeta:
        """The tensor's meta (a copy; change a tensor through its methods), by key or by
        attribute: ``meta["htype"]``, ``meta.sample_compression``."""
        return TensorMeta(json.loads(json.dumps(self._engine.meta)))

    @property
    def sample_compression(self) -> str | None:
        return self._engine.meta.get("sample_compression")

    @property
    def chunk_compression(self) -> str | None:
        return self._engine.meta.get("chunk_compression")

    @property
    def info(self) -> Info:
        """User metadata. Changes are staged and written by the next awaited write or flush
        (``await ds.flush_async()``) or when ``async with ds:`` ends."""
        return Info(self._engine.info, self._info_changed)

    def _info_changed(self) -> None:
        self._ds._engine.check_writable()
        self._engine.info_dirty = True

    def __len__(self) -> int:
        if self._items is not None:
            return self._items.length(_sequence.item_count(self._engine, self._one()))
        return self._index.length(self._engine.samples)

    @property
    def num_samples(self) -> int:
        """The tensor's length, whatever samples a view selects (deeplake's)."""
        return self._engine.samples

    @property
    def is_sequence(self) -> bool:
        return bool(self._engine.meta.get("is_sequence"))

    def _one(self) -> int:
        return int(self._indices()[0])

    def _dims(self) -> tuple[int | None, ...]:
        meta = self._engine.meta
        mn, mx = meta.get("min_shape") or [], meta.get("max_shape") or []
        return _subindex.dims(mn, mx, self._sub)

    @property
    def shape(self) -> tuple[int | None, ...]:
        """``(samples, *sample_shape)``; an axis whose size varies between samples is None
        (for one sample: ``await t.shape_async()`` reads its exact shape)."""
        if self.is_sequence:
            return _sequence.shape(self)
        dims = self._dims()
        return dims if self._index.is_scalar else (len(self), *dims)

    async def shape_async(self) -> tuple[int | None, ...]:
        if self.is_sequence:
            found = _sequence.shape(self)
            if self._index.is_scalar and None in found and not self._engine.kind.is_object:
                value = await self.numpy_async(aslist=self._items is None)
                if isinstance(value, list):  # one sample's items: same count, shapes vary
                    shapes = {v.shape for v in value}
                    return (len(value), *(shapes.pop() if len(shapes) == 1 else found[1:]))
                return tuple(value.shape)
            return found
        dims = self._dims()
        if self._index.is_scalar and any(d is None for d in dims):
            if self._engine.kind.is_object:
                values = await self._values(self._indices())
                return self._engine.kind.value_shape(values[0])
            return tuple((await self.numpy_async()).shape)
        return self.shape

    async def shapes_async(self) -> Any:
        """Every sample's shape: an int32 array with a row per sample (deeplake's
        ``shapes()``); for a sequence tensor, a list of such arrays with a row per item."""
        return await _shapes.sample_shapes(self)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int | None:
        """How many values the samples hold in all (None when a sample's shape varies)."""
        return _size(self.shape)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(key={self._key!r}, htype={self.htype!r}, index={self._index!r})"
        )

    # -- indexing ----------------------------------------------------------------------------
    def __getitem__(self, item: Any) -> AsyncTensor:
        if self.is_sequence:
            if isinstance(item, tuple) and item:  # t[i, j]: sample i's item j
                out = self[item[0]]
                if len(item) > 1 and not out._index.is_scalar:
                    raise IndexError(
                        f"sequence tensor {self.name!r}: t[i, j] picks items of one sample; "
                        f"for several samples read t[a:b].numpy(aslist=True) and index the lists"
                    )
                return out[item[1:] if len(item) > 2 else item[1]] if len(item) > 1 else out
            if self._index.is_scalar:
                return type(self)(self._ds, self._key, self._index, _sequence.sub_index(self, item))
        elif not self._engine.kind.is_object:
            if self._index.is_scalar:  # t[i][...]: inside the one sample
                return type(self)(self._ds, self._key, self._index, None, (*self._sub, item))
            if isinstance(item, tuple):  # t[samples, inside each]
                samples, inside = _subindex.split(item)
                index = self._index.compose(samples, self._engine.samples)
                return type(self)(self._ds, self._key, index, None, (*self._sub, *inside))
        index = self._index.compose(item, self._engine.samples)
        return type(self)(self._ds, self._key, index, None, self._sub)

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def _indices(self) -> np.ndarray:
        return self._index.resolve(self._engine.samples)

    # -- reads -------------------------------------------------------------------------------
    async def numpy_async(self, aslist: bool = False, fetch_chunks: bool = False) -> Any:
        """The samples as a numpy array (``aslist=True``: a list of arrays, one per sample).
        ``fetch_chunks`` is deeplake's; shoal picks whole chunks or byte ranges itself."""
        e = self._engine
        if self.is_sequence:
            return await _sequence.numpy(self, aslist)
        idx = self._indices()
        if e.kind.is_object:
            return e.kind.numpy_form(await self._values(idx), self._index.is_scalar, aslist)
        scalar = self._index.is_scalar
        value: Any
        if scalar:
            value = (await e.read_arrays(idx))[0]
        elif aslist or self._sub:  # indexed inside: the samples may differ until indexed
            value = await e.read_arrays(idx)
        else:
            return await e.read_stacked(idx)
        return _subindex.apply(value, self._sub, scalar, aslist, self.name)

    async def _values(self, idx: np.ndarray) -> list[Any]:
        """Samples of an object htype (text, json, ...) as Python objects."""
        e = self._engine
        return [e.kind.decode(b, e.name) for b in await e.read_blobs(idx)]

    async def _objects(self, method: str) -> Any:
        kind = self._engine.kind
        if method not in kind.read_methods:
            takers = [h for h in known_htypes() if method in get_htype(h).read_methods]
            raise ShoalError(
                f"{method}() is for htype {' or '.join(map(repr, takers))}; tensor "
                f"{self.name!r} is {self.htype!r}"
            )
        if self.is_sequence:
            return await _sequence.objects(self)
        values = await self._values(self._indices())
        return values[0] if self._index.is_scalar else values

    async def text_async(self) -> str | list[str]:
        """A text sample as str, or a list of str for several samples."""
        return await self._objects("text")  # type: ignore[no-any-return]

    async def dict_async(self) -> Any:
        """A json sample as its object, or a list of them for several samples."""
        return await self._objects("dict")

    async def list_async(self) -> Any:
        """A list (or tag) sample as a Python list, or a list of them for several samples."""
        return await self._objects("list")

    async def data_async(self, aslist: bool = False) -> builtins.dict[str, Any]:
        """``{"value": ...}`` (class labels add ``"text"``: the class names)."""
        e, scalar = self._engine, self._index.is_scalar
        if self.is_sequence:
            return await _sequence.data(self, aslist)
        if e.kind.is_object:
            values = await self._values(self._indices())
            return e.kind.data_form(values[0] if scalar else values, e.info, scalar)
        value = await self.numpy_async(aslist=aslist)
        return e.kind.data_form(value, e.info, scalar)

    # -- writes ------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name in _SYNC_ONLY:
            raise AttributeError(
                f"{type(self).__name__}.{name} does I/O: await `{name}_async()` instead (or "
                "open the dataset with shoal.load for the sync API)"
            )
        raise AttributeError(name)


def _size(shape: tuple[int | None, ...]) -> int | None:
    total = 1
    for n in shape:
        if n is None:
            return None
        total *= n
    return total


_SYNC_ONLY = frozenset(
    {
        "numpy",
        "text",
        "dict",
        "list",
        "data",
        "extend",
        "append",
        "pop",
        "update",
        "shapes",
        "clear",
    }
)


class Tensor(SyncLinkMethods, SyncSampleInfo, SyncTensorAttrs, TensorAppends):
    """A tensor of a dataset (``ds.images``), or a view of it (``ds.images[10:20]``)."""

    def __init__(self, dataset: Dataset, inner: AsyncTensor) -> None:
        self._ds = dataset
        self._inner = inner

    @property
    def _a(self) -> AsyncTensor:
        """The async tensor, its meta loaded (the sync façade loads tensors on first use)."""
        inner = self._inner
        engine = inner._ds._engine
        if inner.key not in engine.tensors:
            _loop.run(engine.load([inner.key]))
        return inner

    # -- identity (no I/O) ---------------------------------------------------------------------
    name = property(lambda self: self._a.name)
    key = property(lambda self: self._a.key)
    htype = property(lambda self: self._a.htype)
    base_htype = property(lambda self: self._a.base_htype)
    dtype = property(lambda self: self._a.dtype)
    meta = property(lambda self: self._a.meta, doc="The tensor's meta (a copy).")
    sample_compression = property(lambda self: self._a.sample_compression)
    chunk_compression = property(lambda self: self._a.chunk_compression)
    num_samples = property(lambda self: self._a.num_samples)
    is_sequence = property(lambda self: self._a.is_sequence)

    @property
    def info(self) -> Info:
        """User metadata; a change is written at once (at the end of ``with ds:`` inside one)."""
        a = self._a
        engine = a._ds._engine
        if not engine.is_loaded([a.key], info=True):
            _loop.run(engine.load([a.key], info=True))

        def changed() -> None:
            a._info_changed()
            a._ds._engine.writes.after_write_sync()

        return Info(a._engine.info, changed)

    def __len__(self) -> int:
        return len(self._a)

    @property
    def shape(self) -> tuple[int | None, ...]:
        """``(samples, *sample_shape)``; an axis whose size varies between samples is None
        (for one sample, its exact shape)."""
        a = self._a
        if a.is_sequence or (a._index.is_scalar and any(d is None for d in a._dims())):
            return _loop.run(a.shape_async())
        return a.shape

    def shapes(self) -> Any:
        """Every sample's shape: an int32 array with a row per sample (deeplake's
        ``shapes()``); for a sequence tensor, a list of such arrays with a row per item."""
        return _loop.run(self._a.shapes_async())

    async def shapes_async(self) -> Any:
        return await (await self._loaded()).shapes_async()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int | None:
        """How many values the samples hold in all (None when a sample's shape varies)."""
        return _size(self.shape)

    def __repr__(self) -> str:
        return f"Tensor(key={self.key!r}, htype={self.htype!r}, index={self._a._index!r})"

    # -- indexing ----------------------------------------------------------------------------
    def __getitem__(self, item: Any) -> Tensor:
        return Tensor(self._ds, self._a[item])

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    # -- reads -------------------------------------------------------------------------------
    def numpy(self, aslist: bool = False, fetch_chunks: bool = False) -> Any:
        """The samples as a numpy array (``aslist=True``: a list of arrays, one per sample)."""
        a = self._a
        if (
            not aslist
            and not a._index.is_scalar
            and not a._engine.kind.is_object
            and not a.is_sequence
            and not a._sub
        ):
            hit = a._engine.read_stacked_cached(a._indices())
            if hit is not None:
                return hit
        return _loop.run(a.numpy_async(aslist=aslist))

    def text(self, fetch_chunks: bool = False) -> str | list[str]:
        """A text sample as str, or a list of str for several samples (``fetch_chunks`` as
        in :meth:`numpy`: shoal decides per read)."""
        return _loop.run(self._a.text_async())

    def dict(self, fetch_chunks: bool = False) -> Any:
        """A json sample as its object, or a list of them for several samples."""
        return _loop.run(self._a.dict_async())

    def list(self, fetch_chunks: bool = False) -> Any:
        """A list (or tag) sample as a Python list, or a list of them for several samples."""
        return _loop.run(self._a.list_async())

    def data(self, aslist: bool = False, fetch_chunks: bool = False) -> builtins.dict[str, Any]:
        """``{"value": ...}`` (class labels add ``"text"``: the class names)."""
        return _loop.run(self._a.data_async(aslist=aslist))

    async def numpy_async(self, aslist: bool = False, fetch_chunks: bool = False) -> Any:
        return await (await self._loaded()).numpy_async(aslist=aslist)

    async def text_async(self) -> str | builtins.list[str]:
        return await (await self._loaded()).text_async()

    async def dict_async(self) -> Any:
        return await (await self._loaded()).dict_async()

    async def list_async(self) -> Any:
        return await (await self._loaded()).list_async()

    async def data_async(self, aslist: bool = False) -> builtins.dict[str, Any]:
        return await (await self._loaded()).data_async(aslist=aslist)

    # -- writes ------------------------------------------------------------------------------
    async def extend_async(
        self, samples: Iterable[Any], progressbar: bool = False, ignore_errors: bool = False
    ) -> None:
        await (await self._loaded()).extend_async(samples, progressbar, ignore_errors)

    async def append_async(self, sample: Any) -> None:
        await (await self._loaded()).append_async(sample)

    def __setitem__(self, item: Any, value: Any) -> None:
        """Replace samples: ``t[i] = x``, ``t[a:b] = xs``, ``t[[i, j]] = xs``; or part of
        them: ``t[i, 2:4] = x``, ``t[i][2:4] = x``, ``t[a:b, 0] = [x, y]`` (one value each)."""
        a = self._a
        if not setitem_now(a, item, value):
            _loop.run(a.setitem_async(item, value))

    def pop(self, index: Any = None) -> None:
        """Remove samples (an index or a list; default: the last), written at once; later
        samples move down. deeplake's rules: no negative or repeated indices."""
        _loop.run(self._a.pop_async(index))

    async def pop_async(self, index: Any = None) -> None:
        await (await self._loaded()).pop_async(index)

    def clear(self) -> None:
        """Remove every sample of the tensor (its meta and info stay), written at once."""
        _loop.run(self._a.clear_async())

    async def clear_async(self) -> None:
        await (await self._loaded()).clear_async()

    async def _loaded(self) -> AsyncTensor:
        inner = self._inner
        await inner._ds._engine.load([inner.key])
        return inner
