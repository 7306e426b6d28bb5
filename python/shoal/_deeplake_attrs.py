"""deeplake's smaller attributes of datasets and tensors, for code written for deeplake:
``num_samples``, ``index`` (read as ``index.values[0].value``), ``no_view_dataset``,
``summary()``, ``sample_indices``, ``is_link``, ``hidden``, ``shape_interval``, ``is_dynamic``
and ``tobytes()``. Mixed into the async classes and the sync
façades."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _loop, _shapes
from ._index import Index
from .errors import ShoalError

if TYPE_CHECKING:
    from .dataset import AsyncDataset, Dataset
    from .tensor import AsyncTensor, Tensor


class AsyncDatasetAttrs:
    @property
    def num_samples(self: AsyncDataset) -> int:  # type: ignore[misc]
        """The length of the shortest tensor, whatever samples a view selects."""
        return self._max_len()

    @property
    def index(self: AsyncDataset) -> Index:  # type: ignore[misc]
        """The samples this view selects: ``index.values[0].value`` is an int, a slice or a
        tuple of ints, as deeplake gives it."""
        return self._index

    @property
    def no_view_dataset(self: AsyncDataset) -> AsyncDataset:  # type: ignore[misc]
        """The whole dataset this is a view of."""
        whole: AsyncDataset = self._view(Index())
        return whole

    @property
    def sample_indices(self: AsyncDataset) -> list[int]:  # type: ignore[misc]
        """The indices of the samples this view selects."""
        return [int(i) for i in self._index.resolve(self._max_len())]

    def summary(self: AsyncDataset, force: bool = False) -> str:  # type: ignore[misc]
        """Print (and return) a table of the tensors: htype, shape, dtype, compression
        (``force`` is accepted for deeplake's signature: the table is cheap at any size)."""
        rows = [("tensor", "htype", "shape", "dtype", "compression")]
        for name, t in self.tensors.items():
            comp = t.sample_compression or t.chunk_compression or "None"
            engine = t._engine
            dtype = engine.kind.summary_dtype(engine.dtype)
            rows.append((name, t.htype, str(t.shape), dtype, comp))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"Dataset(path={self._path!r}, read_only={self.read_only}, samples={len(self)})"]
        for j, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        text = "\n".join(lines)
        print(text)
        return text


class SyncDatasetAttrs:
    @property
    def num_samples(self: Dataset) -> int:  # type: ignore[misc]
        """The length of the shortest tensor, whatever samples a view selects."""
        return int(self._load_visible().num_samples)

    @property
    def index(self: Dataset) -> Index:  # type: ignore[misc]
        """The samples this view selects (``index.values[0].value``, as deeplake gives it)."""
        return self._a.index

    @property
    def sample_indices(self: Dataset) -> list[int]:  # type: ignore[misc]
        """The indices of the samples this view selects."""
        return list(self._load_visible().sample_indices)

    @property
    def no_view_dataset(self: Dataset) -> Dataset:  # type: ignore[misc]
        """The whole dataset this is a view of."""
        from .dataset import Dataset

        return Dataset(self._a.no_view_dataset)

    def summary(self: Dataset, force: bool = False) -> str:  # type: ignore[misc]
        """Print (and return) a table of the tensors: htype, shape, dtype, compression."""
        return str(self._load_visible().summary())


class AsyncTensorAttrs:
    @property
    def index(self: AsyncTensor) -> Index:  # type: ignore[misc]
        """The samples this view selects (``index.values[0].value``, as deeplake gives it)."""
        return self._index

    @property
    def is_link(self: AsyncTensor) -> bool:  # type: ignore[misc]
        """Whether the samples are links to files (a ``link[...]`` tensor)."""
        return bool(self._engine.meta.get("is_link"))

    async def shape_interval_async(self: AsyncTensor) -> _shapes.ShapeInterval:  # type: ignore[misc]
        """The smallest and largest size of every axis, the sample count first (deeplake's
        ``shape_interval``): a whole tensor's from its meta's bounds, a view's from its
        samples' shapes."""
        return await _shapes.shape_interval(self)

    async def is_dynamic_async(self: AsyncTensor) -> bool:  # type: ignore[misc]
        """Whether the samples selected differ in shape (deeplake's ``is_dynamic``)."""
        return (await self.shape_interval_async()).is_dynamic

    @property
    def hidden(self: AsyncTensor) -> bool:  # type: ignore[misc]
        """Whether this is a hidden tensor (a companion like ``_images_id``)."""
        return bool(self._engine.meta.get("hidden"))

    @property
    def sample_indices(self: AsyncTensor) -> list[int]:  # type: ignore[misc]
        """The indices of the samples this view selects."""
        return [int(i) for i in self._indices()]

    async def tobytes_async(self: AsyncTensor) -> bytes:  # type: ignore[misc]
        """One sample's bytes as stored: an image's encoded file, an array's raw bytes, a
        text's UTF-8, a linked sample's file (deeplake's ``tobytes``)."""
        e = self._engine
        if not self._index.is_scalar or self._sub or self._items is not None:
            raise ShoalError(
                f"tobytes() reads exactly one sample; index one: ds.{self.name}[i].tobytes()"
            )
        if e.meta.get("chunk_compression"):
            raise ShoalError(
                f"tensor {self.name!r} is compressed by chunk "
                f"({e.meta['chunk_compression']}): a sample's own bytes are not stored; read "
                "it with numpy()"
            )
        if e.seq is not None:
            raise ShoalError(
                f"sequence tensor {self.name!r}: tobytes() reads one stored sample; read the "
                "items with numpy(aslist=True)"
            )
        idx = self._indices()
        await e.ensure_full()
        if int(idx[0]) in e.tiles:
            raise ShoalError(
                f"tensor {self.name!r}: sample {int(idx[0])} is stored in tiles, not as one "
                "object; read it with numpy()"
            )
        (data,) = await e.read_blobs(idx)
        return bytes(data)


class SyncTensorAttrs:
    index = property(lambda self: self._a.index)
    is_link = property(lambda self: self._a.is_link)
    hidden = property(lambda self: self._a.hidden)
    sample_indices = property(lambda self: self._a.sample_indices)

    def tobytes(self: Tensor) -> bytes:  # type: ignore[misc]
        """One sample's bytes as stored: an image's encoded file, an array's raw bytes, a
        text's UTF-8, a linked sample's file."""
        return _loop.run(self.tobytes_async())

    async def tobytes_async(self: Tensor) -> bytes:  # type: ignore[misc]
        return await (await self._loaded()).tobytes_async()

    @property
    def shape_interval(self: Tensor) -> _shapes.ShapeInterval:  # type: ignore[misc]
        """The smallest and largest size of every axis, the sample count first (deeplake's
        ``shape_interval``; ``str()`` gives ``(2, 10, 10:15)``)."""
        return _loop.run(self.shape_interval_async())

    async def shape_interval_async(self: Tensor) -> _shapes.ShapeInterval:  # type: ignore[misc]
        return await (await self._loaded()).shape_interval_async()

    @property
    def is_dynamic(self: Tensor) -> bool:  # type: ignore[misc]
        """Whether the samples selected differ in shape."""
        return self.shape_interval.is_dynamic
