"""Saved views, as deeplake 3.9.52 stores them: ``ds[...].save_view(id=...)``,
``ds.get_views()``, ``ds.load_view(id)``, ``ds.delete_view(id)``.

A view is saved as a small dataset inside its source, ``.queries/<id>/``, holding one tensor,
``VDS_INDEX``, of the view's sample indices, and in its info where it came from (the source
path and commit, the index); the source's ``queries.json`` lists the saved views, written
under deeplake's ``queries.lock``. A view is saved from a committed version (as deeplake
requires), and loads as that commit's samples even after the branch moved on. An optimized
view holds the samples themselves (``_views_optimize``). Either library loads the other's
views.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _loop
from ._views_optimize import optimize_entry, write_optimized
from .engine.dataset import DatasetEngine
from .engine.lock import WriteLock
from .errors import ShoalError, VersionError
from .format.keys import FIRST_COMMIT_ID
from .storage._prefixed import PrefixedStorage

if TYPE_CHECKING:
    from .dataset import AsyncDataset, Dataset

QUERIES = "queries.json"
QUERIES_LOCK = "queries.lock"
FOLDER = ".queries"
INDEX_TENSOR = "VDS_INDEX"


class ViewEntry:
    """One saved view of a dataset: its ``id``, ``message``, ``commit_id`` and ``info``;
    :meth:`load_async` (or ``load()`` on a sync dataset's entry) gives it back."""

    def __init__(self, info: dict[str, Any], dataset: AsyncDataset) -> None:
        self.info = info
        self._ds = dataset

    id = property(lambda self: str(self.info["id"]))
    message = property(lambda self: self.info.get("message"))
    commit_id = property(lambda self: self.info.get("source-dataset-version"))
    virtual = property(lambda self: bool(self.info.get("virtual-datasource", True)))

    def __repr__(self) -> str:
        return f"View(id={self.id!r}, message={self.message!r}, commit={self.commit_id!r})"

    async def load_async(self) -> AsyncDataset:
        return await _load(self._ds, self.info)

    def load(self) -> Dataset:
        from .dataset import Dataset

        return Dataset(_loop.run(self.load_async()))

    async def optimize_async(
        self, tensors: Sequence[str] | None = None, unlink: bool = True, **options: Any
    ) -> ViewEntry:
        """Copy the view's samples into the view (deeplake's ``ViewEntry.optimize``), so
        loading it reads those only; this entry, now optimized."""
        _check_optimize_options(unlink, options, "optimize")
        self.info = await optimize_entry(self._ds, self.info, tensors)
        return self

    def optimize(
        self, tensors: Sequence[str] | None = None, unlink: bool = True, **options: Any
    ) -> ViewEntry:
        """Copy the view's samples into the view (see :meth:`optimize_async`); this entry."""
        done: ViewEntry = _loop.run(self.optimize_async(tensors, unlink, **options))
        return done


async def _read(storage: Any) -> list[dict[str, Any]]:
    (raw,) = await storage.get_many([QUERIES])
    return list(json.loads(raw)) if raw else []


async def _edit_queries(storage: Any, change: Any) -> None:
    """Read, change and write ``queries.json`` holding deeplake's lock of it."""
    lock = WriteLock(storage, QUERIES_LOCK, timeout=10, validity=10)
    await lock.acquire()
    try:
        entries = await _read(storage)
        await storage.put(QUERIES, json.dumps(change(entries)).encode())
    finally:
        await lock.release()


class AsyncViews:
    """Saved views of an async dataset (mixed into :class:`~shoal.dataset.AsyncDataset`)."""

    async def save_view_async(  # type: ignore[misc]
        self: AsyncDataset,
        message: str | None = None,
        path: str | None = None,
        id: str | None = None,
        optimize: bool = False,
        tensors: Sequence[str] | None = None,
        overwrite: bool = False,
        **options: Any,
    ) -> str:
        """Save this view (its sample indices) in the dataset as ``.queries/<id>``, or as a
        dataset of its own at ``path``; the saved view's path. deeplake's rules: the
        version must be committed; ``id`` defaults to a new one; an existing id needs
        ``overwrite=True``."""
        e = self._engine
        if await self.has_head_changes_async():
            raise VersionError(
                "the dataset has uncommitted changes; commit them (ds.commit(message)) before "
                "saving a view, as deeplake requires"
            )
        indices = self._index.resolve(self._max_len()).astype(np.uint64)
        info: dict[str, Any] = {
            "id": id or uuid.uuid4().hex,
            "virtual-datasource": not optimize,
            "source-dataset": self.path,
            "source-dataset-version": self.commit_id or FIRST_COMMIT_ID,
            "created_at": time.time(),
        }
        if message is not None:
            info["message"] = message
        info["source-dataset-index"] = [indices.tolist()]
        if not optimize:  # deeplake records it for virtual views only
            info["first-index-subscriptable"] = not self._index.is_scalar
        if path is not None:
            from .routing import open_storage, parse

            target = await open_storage(parse(path), creds=options.get("creds"))
            if optimize:
                await write_optimized(self, target, path, info, tensors, overwrite)
            else:
                await _write_vds(target, info, indices, overwrite)
            return path
        if e.storage.read_only:
            raise ShoalError(
                f"save_view writes into {self.path}/{FOLDER}: open the dataset writable "
                "(read_only=False), or pass path=... to save the view elsewhere"
            )
        if not overwrite and any(v["id"] == info["id"] for v in await _read(e.storage)):
            raise ShoalError(
                f"a view with id {info['id']!r} exists in {self.path}; pick another id, or pass "
                "overwrite=True to replace it"
            )
        folder = f"{FOLDER}/{info['id']}"
        storage = PrefixedStorage(e.storage, folder)
        if optimize:
            url = f"{self.path.rstrip('/')}/{folder}"
            await write_optimized(self, storage, url, info, tensors, True)
        else:
            await _write_vds(storage, info, indices, True)

        def add(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [v for v in entries if v["id"] != info["id"]] + [info]

        await _edit_queries(e.storage, add)
        return f"{self.path.rstrip('/')}/{folder}"

    async def get_views_async(  # type: ignore[misc]
        self: AsyncDataset, commit_id: str | None = None
    ) -> list[ViewEntry]:
        """The views saved in this dataset (of one commit, if given)."""
        entries = await _read(self._engine.storage)
        return [
            ViewEntry(v, self)
            for v in entries
            if commit_id is None or v.get("source-dataset-version") == commit_id
        ]

    async def get_view_async(self: AsyncDataset, id: str) -> ViewEntry:  # type: ignore[misc]
        for view in await self.get_views_async():
            if view.id == id:
                return view
        raise KeyError(f"no view with id {id!r} in {self.path}")

    async def load_view_async(  # type: ignore[misc]
        self: AsyncDataset, id: str, optimize: bool = False, **options: Any
    ) -> AsyncDataset:
        """The saved view ``id``, as the samples of the commit it was saved from;
        ``optimize``: made an optimized view first (its samples copied into it)."""
        tensors = options.pop("tensors", None)
        _check_optimize_options(True, options, "load_view")
        view = await self.get_view_async(id)
        if optimize:
            await view.optimize_async(tensors)
        return await view.load_async()

    async def delete_view_async(self: AsyncDataset, id: str) -> None:  # type: ignore[misc]
        """Remove the saved view ``id`` (its folder and its entry in ``queries.json``)."""
        view = await self.get_view_async(id)
        storage = self._engine.storage

        def drop(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [v for v in entries if v["id"] != id]

        await _edit_queries(storage, drop)
        await storage.delete_prefix(f"{FOLDER}/{view.info.get('path') or id}/")


async def _write_vds(storage: Any, info: dict[str, Any], indices: np.ndarray, over: bool) -> None:
    from .dataset import AsyncDataset

    vds = AsyncDataset(await DatasetEngine.create(storage, overwrite=over), storage.url)
    try:
        await vds.create_tensor_async(
            INDEX_TENSOR,
            dtype="uint64",
            create_shape_tensor=False,
            create_id_tensor=False,
            create_sample_info_tensor=False,
        )
        await vds[INDEX_TENSOR].extend_async(indices)
        vds.info.update(info)
        await vds.flush_async()
    finally:
        await vds._engine.release_lock()


async def _load(ds: AsyncDataset, info: dict[str, Any]) -> AsyncDataset:
    from .dataset import AsyncDataset

    root = ds._engine
    folder = f"{FOLDER}/{info.get('path') or info['id']}"
    storage = PrefixedStorage(root.storage, folder, read_only=True)
    vds_engine = await DatasetEngine.open(storage, None)
    vds = AsyncDataset(vds_engine, f"{ds.path.rstrip('/')}/{folder}")
    if not info.get("virtual-datasource", True):
        return vds  # an optimized view: its samples copied into it
    indices = await vds[INDEX_TENSOR].numpy_async()
    version = info.get("source-dataset-version") or FIRST_COMMIT_ID
    if version in (ds.commit_id, ds.pending_commit_id):
        await root.load([root.key_of(n) for n in root.visible_names()])  # lengths need them
        source = AsyncDataset(root, ds.path)  # the whole dataset, not a view of it
    else:  # the commit it was saved from: the branch may have moved on since
        source = AsyncDataset(await DatasetEngine.open(root.storage, version), ds.path)
    picked = np.asarray(indices, dtype=np.int64).reshape(-1).tolist()
    return source[picked]  # type: ignore[no-any-return]


# deeplake's options of its own workers and progress output: shoal copies concurrently, quietly
_IGNORED = frozenset({"num_workers", "scheduler", "progressbar", "ignore_errors", "verbose"})


def _check_optimize_options(unlink: bool, options: dict[str, Any], what: str) -> None:
    unknown = set(options) - _IGNORED
    if unknown:
        raise TypeError(f"{what}() got unexpected arguments {sorted(unknown)}")
    if not unlink:
        raise ShoalError(
            f"{what}(unlink=False) is not supported: an optimized view stores the files of its "
            "link tensors (deeplake's default); leave unlink as it is, or copy the view with "
            "view.copy(dest) to keep the links"
        )


class SyncViews:
    """Saved views of a dataset (mixed into :class:`~shoal.dataset.Dataset`)."""

    _a: Any

    def save_view(
        self,
        message: str | None = None,
        path: str | None = None,
        id: str | None = None,
        optimize: bool = False,
        tensors: Sequence[str] | None = None,
        overwrite: bool = False,
        **options: Any,
    ) -> str:
        """Save this view as deeplake does (see :meth:`AsyncViews.save_view_async`); its
        path. ``ds[10:20].save_view(id="some")``, later ``ds.load_view("some")``."""
        inner = self._load_visible()  # type: ignore[attr-defined]
        return str(
            _loop.run(
                inner.save_view_async(message, path, id, optimize, tensors, overwrite, **options)
            )
        )

    def get_views(self, commit_id: str | None = None) -> list[ViewEntry]:
        return list(_loop.run(self._a.get_views_async(commit_id)))

    def get_view(self, id: str) -> ViewEntry:
        found: ViewEntry = _loop.run(self._a.get_view_async(id))
        return found

    def load_view(self, id: str, optimize: bool = False, **options: Any) -> Dataset:
        """The saved view ``id`` (the samples of the commit it was saved from)."""
        from .dataset import Dataset

        return Dataset(_loop.run(self._a.load_view_async(id, optimize, **options)))

    def delete_view(self, id: str) -> None:
        _loop.run(self._a.delete_view_async(id))
