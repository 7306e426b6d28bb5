"""The public Tensor: a column of a dataset, or a view of some of its samples."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _loop
from ._index import Index
from .engine.tensor import TensorEngine, ensure_samples
from .errors import ShoalError
from .info import Info

if TYPE_CHECKING:
    from .dataset import Dataset


class Tensor:
    """A tensor of a dataset (``ds.images``), or a view of it (``ds.images[10:20]``).

    Every method that reads or writes storage has an awaitable ``_async`` twin.
    """

    def __init__(self, dataset: Dataset, key: str, index: Index | None = None) -> None:
        self._ds = dataset
        self._key = key
        self._index = index or Index()

    # -- identity ----------------------------------------------------------------------------
    @property
    def _engine(self) -> TensorEngine:
        engine = self._ds._engine
        found = engine.tensors.get(self._key)
        if found is None:  # e.g. after ds.checkout(): load it for this version
            engine.load_sync([self._key])
            found = engine.tensors[self._key]
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
    def dtype(self) -> np.dtype | None:
        e = self._engine
        if e.htype == "text":
            return np.dtype(str)
        if e.htype == "json":
            return np.dtype(object)
        return e.dtype

    @property
    def meta(self) -> dict[str, Any]:
        """The tensor's meta (a copy; change a tensor through its methods)."""
        meta: dict[str, Any] = json.loads(json.dumps(self._engine.meta))
        return meta

    @property
    def sample_compression(self) -> str | None:
        return self._engine.meta.get("sample_compression")

    @property
    def chunk_compression(self) -> str | None:
        return self._engine.meta.get("chunk_compression")

    @property
    def info(self) -> Info:
        self._ds._engine.load_sync([self._key], full=True)
        engine = self._engine

        def changed() -> None:
            self._ds._engine.check_writable()
            engine.info_dirty = True
            self._ds._autoflush()

        return Info(engine.info, changed)

    def __len__(self) -> int:
        return self._index.length(self._engine.length)

    @property
    def num_samples(self) -> int:
        return self._engine.length

    @property
    def shape(self) -> tuple[int | None, ...]:
        """``(samples, *sample_shape)``; an axis whose size varies between samples is None."""
        e = self._engine
        mn, mx = e.meta.get("min_shape") or [], e.meta.get("max_shape") or []
        dims = tuple(a if a == b else None for a, b in zip(mn, mx, strict=False))
        if self._index.is_scalar:
            if any(d is None for d in dims):
                return tuple(self.numpy().shape) if e.htype not in ("text", "json") else (1,)
            return dims
        return (len(self), *dims)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"Tensor(key={self._key!r}, htype={self.htype!r}, index={self._index!r})"

    # -- indexing ----------------------------------------------------------------------------
    def __getitem__(self, item: Any) -> Tensor:
        return Tensor(self._ds, self._key, self._index.compose(item, self._engine.length))

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def _indices(self) -> np.ndarray:
        return self._index.resolve(self._engine.length)

    # -- reads -------------------------------------------------------------------------------
    async def numpy_async(self, aslist: bool = False) -> Any:
        e = self._engine
        idx = self._indices()
        if e.htype in ("text", "json"):
            values = await self._values(idx)
            if self._index.is_scalar:
                return np.array(values[:1], dtype=str if e.htype == "text" else object)
            arr = np.empty((len(values), 1), dtype=object if e.htype == "json" else None or object)
            for i, v in enumerate(values):
                arr[i, 0] = v
            if e.htype == "text":
                arr = arr.astype(str)
            return list(arr) if aslist else arr
        if self._index.is_scalar:
            return (await e.read_arrays(idx))[0]
        if aslist:
            return await e.read_arrays(idx)
        return await e.read_stacked(idx)

    def numpy(self, aslist: bool = False) -> Any:
        """The samples as a numpy array (``aslist=True``: a list of arrays, one per sample)."""
        if not aslist and not self._index.is_scalar:
            e = self._engine
            if e.htype not in ("text", "json"):
                hit = e.read_stacked_cached(self._indices())
                if hit is not None:
                    return hit
        return _loop.run(self.numpy_async(aslist=aslist))

    async def _values(self, idx: np.ndarray) -> list[Any]:
        e = self._engine
        blobs = await e.read_blobs(idx)
        if e.htype == "text":
            return [b.decode("utf-8") for b in blobs]
        out: list[Any] = []
        for b in blobs:
            if not b:
                out.append({})
                continue
            try:
                out.append(json.loads(b))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ShoalError(
                    f"tensor {self.name!r}: a stored json sample does not parse; the chunk is "
                    "damaged"
                ) from None
        return out

    async def text_async(self) -> str | list[str]:
        if self.htype != "text":
            raise ShoalError(f"text() is for htype 'text'; tensor {self.name!r} is {self.htype!r}")
        values = await self._values(self._indices())
        return values[0] if self._index.is_scalar else values

    def text(self) -> str | list[str]:
        """A text sample as str, or a list of str for several samples."""
        return _loop.run(self.text_async())

    async def dict_async(self) -> Any:
        if self.htype != "json":
            raise ShoalError(f"dict() is for htype 'json'; tensor {self.name!r} is {self.htype!r}")
        values = await self._values(self._indices())
        return values[0] if self._index.is_scalar else values

    def dict(self) -> Any:
        """A json sample as its object, or a list of them for several samples."""
        return _loop.run(self.dict_async())

    async def data_async(self, aslist: bool = False) -> builtins.dict[str, Any]:
        htype = self.htype
        if htype in ("text", "json"):
            values = await self._values(self._indices())
            return {"value": values[0] if self._index.is_scalar else values}
        value = await self.numpy_async(aslist=aslist)
        if htype == "class_label":
            names = self._engine.info.get("class_names") or []

            def label(ids: np.ndarray) -> list[str]:
                return [names[int(i)] if int(i) < len(names) else str(int(i)) for i in ids.ravel()]

            if self._index.is_scalar:
                return {"value": value, "text": label(value)}
            rows = value if isinstance(value, list) else list(value)
            return {"value": value, "text": [label(r) for r in rows]}
        return {"value": value}

    def data(self, aslist: bool = False) -> builtins.dict[str, Any]:
        """``{"value": ...}`` (class labels add ``"text"``: the class names)."""
        return _loop.run(self.data_async(aslist=aslist))

    # -- writes ------------------------------------------------------------------------------
    def _check_appendable(self) -> None:
        if not self._index.is_full:
            raise ShoalError(
                f"append/extend works on the whole tensor, not a view; use ds.{self.name}.append"
            )
        self._ds._engine.check_writable()

    async def extend_async(self, samples: Iterable[Any]) -> None:
        self._check_appendable()
        engine = self._ds._engine
        await engine.load([self._key])
        await engine.load(engine.with_companions(self._key), full=True)
        self._ds._stage(self._key, ensure_samples(samples, self.name))
        await self._ds._autoflush_async()

    def extend(self, samples: Iterable[Any]) -> None:
        """Append every sample of ``samples``. All or nothing: a bad sample changes nothing."""
        self._check_appendable()
        engine = self._ds._engine
        engine.load_sync([self._key])
        engine.load_sync(engine.with_companions(self._key), full=True)
        self._ds._stage(self._key, ensure_samples(samples, self.name))
        self._ds._autoflush()

    async def append_async(self, sample: Any) -> None:
        await self.extend_async([sample])

    def append(self, sample: Any) -> None:
        """Append one sample: an array, a str (text, class_label), a dict (json), or image bytes."""
        self.extend([sample])
