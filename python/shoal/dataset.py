"""Datasets: ``AsyncDataset``, the object model for async code, and ``Dataset``, the sync
façade over it.

``await shoal.load_async(path)`` loads everything attribute access needs, concurrently, so
that ``ds.x``, ``ds["x"]``, ``len(ds)``, ``ds[i]`` and ``ds.info`` never do I/O; every read and
write is a coroutine. ``Dataset`` runs those coroutines on shoal's background loop, loads
tensors on first use, and keeps each ``_async`` twin.
"""

from __future__ import annotations

import json
from typing import Any

from . import _loop
from ._dataset_admin import AsyncDatasetAdmin, DatasetAdmin
from ._deeplake_attrs import AsyncDatasetAttrs, SyncDatasetAttrs
from ._editing import AsyncDatasetEditing, DatasetEditing
from ._groups import AsyncGroups, SyncGroups
from ._index import Index
from ._views import AsyncViews, SyncViews
from .engine.create_options import check_same_config, like_options
from .engine.dataset import DatasetEngine
from .errors import LoaderError
from .info import Info
from .links.dataset_api import AsyncCredsKeys, SyncCredsKeys
from .loader import DEFAULT_PREFETCH_BYTES, AsyncLoader, Loader
from .loader.api import open_loader
from .tensor import AsyncTensor, Tensor
from .version_control import AsyncVersionControl, VersionControl


class AsyncDataset(
    AsyncGroups,
    AsyncCredsKeys,
    AsyncDatasetEditing,
    AsyncVersionControl,
    AsyncDatasetAdmin,
    AsyncViews,
    AsyncDatasetAttrs,
):
    """A dataset or a view of some of its samples (``ds[10:20]``).

    Outside an ``async with ds:`` block every write is flushed before it returns; inside,
    writes are batched and written when the outermost block ends, unless a block raised:
    then the batch is dropped and the dataset stays at its last flush.
    """

    def __init__(
        self, engine: DatasetEngine, path: str, index: Index | None = None, eager: bool = True
    ) -> None:
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_index", index or Index())
        object.__setattr__(self, "_eager", eager)

    _engine: DatasetEngine
    _path: str
    _index: Index
    _eager: bool  # tensors loaded when opened (False under the sync façade: loaded on use)

    # -- identity ----------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self._path

    @property
    def read_only(self) -> bool:
        return self._engine.read_only

    async def connect_async(
        self,
        creds_key: str | None = None,
        dest_path: str | None = None,
        org_id: str | None = None,
        ds_name: str | None = None,
        token: str | None = None,
    ) -> str:
        """Connect this ``s3://``/``gcs://`` dataset to the platform (see
        :func:`shoal.connect`); ``creds_key``/``org_id`` default to the managed key it was
        opened with. From now on its path is the new ``hub://org/name``, which is returned."""
        from .auth.hub_connect import connect_path_async
        from .storage._managed import managed_source_of

        source = managed_source_of(self._engine.storage)
        if source is not None:
            creds_key = creds_key or source.key
            if dest_path is None:
                org_id = org_id or source.org
        path = await connect_path_async(
            self._path, creds_key or "", dest_path, org_id, ds_name, token
        )
        object.__setattr__(self, "_path", path)
        return path

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"{type(self).__name__}(path={self._path!r}{ro}, tensors={self._tensor_names()})"

    # -- tensors -----------------------------------------------------------------------------
    @property
    def tensors(self) -> dict[str, AsyncTensor]:
        """Visible tensors by name (hidden companions excluded)."""
        return {n: self._tensor(n) for n in self._tensor_names()}

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if name in _SETTABLE:
            raise AttributeError(
                f"setting {name} writes to storage: await ds.set_{name}_async({value!r})"
            )
        raise AttributeError(
            f"cannot set {name!r} on a dataset; create tensors with ds.create_tensor({name!r})"
        )

    def _max_len(self) -> int:
        engine = self._engine
        lengths = [engine.loaded(self._key(n)).samples for n in self._tensor_names()]
        return min(lengths) if lengths else 0

    def __len__(self) -> int:
        return self._index.length(self._max_len())

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    @property
    def info(self) -> Info:
        """User metadata; changes are written with the next flush."""
        return Info(self._engine.info, self._info_changed)

    def _info_changed(self) -> None:
        self._engine.check_writable()
        self._engine.info_dirty = True

    # -- writes ------------------------------------------------------------------------------
    def _create(self, name: str, htype: str, kwargs: dict[str, Any]) -> str:
        self._check_root("create_tensor")
        name = self._full_name(name)
        kwargs.pop("verbose", None)  # deeplake's log line; shoal prints nothing
        if kwargs.pop("exist_ok", False) and name in self._engine.meta["tensor_names"]:
            key = self._engine.key_of(name)
            check_same_config(name, self._engine.tensors[key].meta, htype, kwargs)
            return key
        self._engine.create_tensor(name, htype, **kwargs)
        return self._engine.key_of(name) if not kwargs.get("hidden") else name

    async def create_tensor_async(self, name: str, htype: str = "generic", **kwargs: Any) -> Any:
        """Create a tensor. ``kwargs``: ``dtype``, ``sample_compression``,
        ``chunk_compression``, ``max_chunk_size``, ``hidden``, ``class_names`` (class_label),
        ``tiling_threshold``, ``coords`` (bbox), ... Raises ``TensorExistsError``,
        ``InvalidHtypeError``, ``InvalidCompressionError``."""
        key = self._create(name, htype, kwargs)
        await self._engine.writes.after_write()
        return AsyncTensor(self, key)

    def _create_like(self, name: str, source: Any, unlink: bool) -> str:
        inner = getattr(source, "_a", source)  # a Tensor or an AsyncTensor, of any dataset
        if not isinstance(inner, AsyncTensor):
            raise TypeError(f"create_tensor_like needs a tensor as source, got {source!r}")
        htype, kwargs = like_options(inner._engine.meta, unlink)
        key = self._create(name, htype, kwargs)
        target = self._engine.tensors[key]
        target.info.clear()
        target.info.update(json.loads(json.dumps(inner._engine.info)))
        target.info_dirty = bool(target.info)
        return key

    async def create_tensor_like_async(
        self, name: str, source: Any, unlink: bool = False
    ) -> AsyncTensor:
        """A new tensor with the meta and info of ``source`` (a tensor of this or another
        dataset), no samples; ``unlink``: a plain tensor like a linked one."""
        key = self._create_like(name, source, unlink)
        await self._engine.writes.after_write()
        return AsyncTensor(self, key)

    @property
    def is_view(self) -> bool:
        """Whether this is a view of some samples (``ds[10:20]``), not the whole dataset."""
        return not self._index.is_full

    async def flush_async(self) -> None:
        """Write every staged change to storage."""
        await self._engine.writes.flush()

    async def __aenter__(self) -> AsyncDataset:
        self._engine.writes.enter()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self._engine.writes.exit(raised=exc_type is not None)

    # -- reads -------------------------------------------------------------------------------
    def loader(
        self,
        batch_size: int = 1,
        shuffle: bool = False,
        seed: int | None = None,
        tensors: list[str] | str | None = None,
        transform: Any = None,
        drop_last: bool = False,
        prefetch_bytes: int = DEFAULT_PREFETCH_BYTES,
        num_threads: int | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        progress: bool = False,
        shuffle_buffer: int | None = None,
        return_index: bool = False,
    ) -> AsyncLoader:
        """Batches of this dataset or view for training: ``async for batch in ds.loader(64)``
        (``for`` on a sync dataset). A batch is ``{tensor name: array}`` (a list where the
        samples' shapes differ, or for text and json). Each loop is one epoch; the next one is
        prefetched as the last batches are read.

        ``shuffle``: chunk order shuffled, then samples within ``shuffle_buffer`` samples
        (default: what half of ``prefetch_bytes`` holds); ``seed`` makes it repeatable, and
        each epoch differs. ``tensors``: the names to read (default: every visible one).
        ``transform(sample_dict)``: applied per sample on the loader's ``num_threads`` threads,
        results collated. ``prefetch_bytes``: bound on chunks held and batches assembled
        ahead. ``rank``/``world_size``: this process's share of each epoch (default: the
        ``RANK``/``WORLD_SIZE`` environment variables, else 0/1). ``progress``: a tqdm bar
        (when tqdm is installed). ``return_index``: each batch's sample indices as
        ``"index"`` (one row each, as deeplake). Raises ``LoaderError`` for arguments it cannot
        use."""
        return open_loader(
            self._engine,
            self._index.resolve(self._max_len()),
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            tensors=tensors,
            transform=transform,
            drop_last=drop_last,
            prefetch_bytes=prefetch_bytes,
            num_threads=num_threads,
            rank=rank,
            world_size=world_size,
            progress=progress,
            shuffle_buffer=shuffle_buffer,
            return_index=return_index,
        )


class Dataset(
    SyncCredsKeys,
    VersionControl,
    DatasetEditing,
    SyncGroups,
    DatasetAdmin,
    SyncViews,
    SyncDatasetAttrs,
):
    """A dataset (``shoal.load(path)``) or a view of some of its samples (``ds[10:20]``).

    Outside a ``with ds:`` block every write is flushed at once; inside, writes are batched
    and flushed when the outermost block ends (or on ``ds.flush()``). If a block raises, the
    batch is dropped: the dataset stays as its last flush left it.
    """

    def __init__(self, inner: AsyncDataset) -> None:
        object.__setattr__(self, "_a", inner)

    _a: AsyncDataset

    @property
    def _engine(self) -> DatasetEngine:
        return self._a._engine

    # -- identity ----------------------------------------------------------------------------
    path = property(lambda self: self._a.path)

    def connect(
        self,
        creds_key: str | None = None,
        dest_path: str | None = None,
        org_id: str | None = None,
        ds_name: str | None = None,
        token: str | None = None,
    ) -> str:
        """Connect this ``s3://``/``gcs://`` dataset to the platform as ``hub://org/name``
        (see :func:`shoal.connect`); the new path."""
        return _loop.run(self._a.connect_async(creds_key, dest_path, org_id, ds_name, token))

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"Dataset(path={self.path!r}{ro}, tensors={self._a._tensor_names()})"

    # -- tensors -----------------------------------------------------------------------------
    @property
    def tensors(self) -> dict[str, Tensor]:
        """Visible tensors by name (hidden companions excluded)."""
        return {n: Tensor(self, t) for n, t in self._a.tensors.items()}

    def _load_visible(self) -> AsyncDataset:
        """The async dataset with every visible tensor's meta loaded (lengths need them)."""
        engine = self._engine
        visible = [engine.key_of(n) for n in engine.visible_names()]
        if not engine.is_loaded(visible):
            _loop.run(engine.load(visible))
        return self._a

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            return self._wrap(self._a[item])
        return Dataset(self._load_visible()[item])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._wrap(getattr(self._a, name))

    def _wrap(self, found: Any) -> Any:
        return Dataset(found) if isinstance(found, AsyncDataset) else Tensor(self, found)

    meta = property(
        lambda self: self["meta"] if "meta" in self._a._tensor_names() else self._a.meta,
        doc="A copy of the dataset meta (or a tensor named meta).",
    )

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SETTABLE:  # properties with a setter: ds.read_only = True
            object.__setattr__(self, name, value)
            return
        self._a.__setattr__(name, value)

    def __len__(self) -> int:
        return len(self._load_visible())

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    @property
    def info(self) -> Info:
        """User metadata; a change is written at once (at the end of ``with ds:`` inside one)."""
        a = self._a

        def changed() -> None:
            a._info_changed()
            a._engine.writes.after_write_sync()

        return Info(a._engine.info, changed)

    # -- writes ------------------------------------------------------------------------------
    def create_tensor(
        self,
        name: str,
        htype: str = "generic",
        dtype: Any = None,
        sample_compression: str | None = None,
        chunk_compression: str | None = None,
        max_chunk_size: int | None = None,
        hidden: bool = False,
        **htype_kwargs: Any,
    ) -> Tensor:
        """Create a tensor. ``htype_kwargs``: ``class_names`` (class_label), ``tiling_threshold``,
        ``coords`` (bbox), ... Raises ``TensorExistsError``, ``InvalidHtypeError``,
        ``InvalidCompressionError``."""
        kwargs = dict(
            dtype=dtype,
            sample_compression=sample_compression,
            chunk_compression=chunk_compression,
            max_chunk_size=max_chunk_size,
            hidden=hidden,
            **htype_kwargs,
        )
        key = self._a._create(name, htype, kwargs)
        self._engine.writes.after_write_sync()
        return Tensor(self, AsyncTensor(self._a, key))

    async def create_tensor_async(self, name: str, htype: str = "generic", **kwargs: Any) -> Tensor:
        return Tensor(self, await self._a.create_tensor_async(name, htype, **kwargs))

    def create_tensor_like(self, name: str, source: Any, unlink: bool = False) -> Tensor:
        """A new tensor with the meta and info of ``source`` (a tensor of this or another
        dataset), no samples; ``unlink``: a plain tensor like a linked one."""
        inner = getattr(source, "_a", None)
        if isinstance(inner, AsyncTensor):  # the sync façade loads infos on first use
            engine = inner._ds._engine
            if not engine.is_loaded([inner.key], info=True):
                _loop.run(engine.load([inner.key], info=True))
        key = self._a._create_like(name, source, unlink)
        self._engine.writes.after_write_sync()
        return Tensor(self, AsyncTensor(self._a, key))

    async def create_tensor_like_async(
        self, name: str, source: Any, unlink: bool = False
    ) -> Tensor:
        return Tensor(self, await self._a.create_tensor_like_async(name, source, unlink))

    is_view = property(lambda self: self._a.is_view)

    def flush(self) -> None:
        """Write every staged change to storage."""
        _loop.run(self._a.flush_async())

    async def flush_async(self) -> None:
        await self._a.flush_async()

    def __enter__(self) -> Dataset:
        self._engine.writes.enter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        _loop.run(self._engine.writes.exit(raised=exc_type is not None))

    async def __aenter__(self) -> Dataset:
        await self._a.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self._a.__aexit__(exc_type, exc, tb)

    # -- reads -------------------------------------------------------------------------------
    def loader(self, batch_size: int = 1, **options: Any) -> Loader:
        """Batches of this dataset or view for ``for`` loops; the options are those of
        :meth:`AsyncDataset.loader` (shuffle, seed, tensors, transform, drop_last,
        prefetch_bytes, num_threads, rank, world_size, progress, shuffle_buffer)."""
        return Loader(self._load_visible().loader(batch_size, **options))

    def pytorch(
        self,
        transform: Any = None,
        tensors: list[str] | str | None = None,
        num_workers: int = 0,
        batch_size: int = 1,
        drop_last: bool = False,
        collate_fn: Any = None,
        pin_memory: bool = False,
        shuffle: bool = False,
        return_index: bool = True,
        transform_kwargs: dict[str, Any] | None = None,
        decode_method: dict[str, str] | None = None,
        progressbar: bool = False,
        **options: Any,
    ) -> Any:
        """A ``torch.utils.data.IterableDataset`` of batches, dicts of torch tensors, with
        deeplake's arguments: iterate it (with ``num_workers`` > 0, worker processes read),
        or wrap it as ``DataLoader(ds.pytorch(batch_size=64), batch_size=None,
        num_workers=n)``. ``transform``: per sample, a function of the sample dict or
        ``{tensor: function}``; ``collate_fn``: over each batch's samples; ``return_index``:
        each sample's ``"index"`` (as deeplake). The other options are :meth:`loader`'s
        (seed, prefetch_bytes, num_threads, rank, world_size, shuffle_buffer); deeplake's
        ``buffer_size``, ``use_local_cache``, ``cache_size``, ``persistent_workers`` and
        ``pad_tensors=False`` are accepted. With ``shuffle``, call ``set_epoch(epoch)`` on it
        before each epoch (as with ``DistributedSampler``) when a DataLoader wraps it. An int
        as first argument is the batch size. Needs PyTorch."""
        from .loader.torch_dataset import TorchOptions, make_torch_dataset, sample_transform

        if isinstance(transform, int) and not isinstance(transform, bool):
            batch_size, transform = transform, None  # ds.pytorch(64)
        for name in ("buffer_size", "use_local_cache", "cache_size", "persistent_workers"):
            options.pop(name, None)  # deeplake's caches and process options: shoal has its own
        if options.pop("pad_tensors", False):
            raise LoaderError(
                "pad_tensors=True is not supported: tensors of different lengths are read up to "
                "the shortest; pass a view (ds[:n]) or tensors=[...] of equal length"
            )
        for tensor, method in (decode_method or {}).items():
            if method != "numpy":
                raise LoaderError(
                    f"decode_method {method!r} for {tensor!r} is not supported; shoal decodes "
                    "to arrays ('numpy')"
                )
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise LoaderError(f"num_workers must be an int >= 0, got {num_workers!r}")
        if isinstance(transform, dict) and tensors is None:
            tensors = [k for k in transform if k != "index"]  # deeplake reads those only
        options.update(
            tensors=tensors,
            drop_last=drop_last,
            shuffle=shuffle,
            transform=sample_transform(transform, transform_kwargs, collate_fn),
            progress=progressbar or options.get("progress", False),
            return_index=return_index,
        )
        view = self._load_visible()
        view.loader(batch_size, **options)  # checks every argument now, not in a worker
        indices = view._index.resolve(view._max_len())
        how = TorchOptions(num_workers, pin_memory, custom_collate=collate_fn is not None)
        return make_torch_dataset(view._engine, indices, batch_size, options, how)


_SETTABLE = frozenset({"read_only", "allow_delete"})
