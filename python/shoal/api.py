"""Top-level functions: ``empty``, ``load``, ``dataset``, ``exists``, ``delete``.

Each ``_async`` twin returns an :class:`AsyncDataset` (for async code: attribute access never
does I/O, reads and writes are awaited); the sync function returns a :class:`Dataset` over
the same object, whose calls run on shoal's background loop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import _loop, routing
from .auth.hub_connect import connect_path_async
from .dataset import AsyncDataset, Dataset
from .engine.dataset import DatasetEngine
from .engine.lock import check_no_writer
from .errors import DatasetNotFoundError, PathError, ReadOnlyError

PathLike = str | os.PathLike[str]


def _display(path: PathLike) -> str:
    return os.fspath(path)


def _with_org(creds: Any, org_id: str | None) -> Any:
    """``creds={"creds_key": k}`` plus ``org_id``: one dict the router hands the platform."""
    if org_id is None and not (isinstance(creds, Mapping) and "creds_key" in creds):
        return creds  # nothing managed: no need to import the platform client
    from .storage._managed import split_managed

    managed = split_managed(creds, org_id)
    return creds if managed is None else managed


async def empty_async(
    path: PathLike,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
) -> AsyncDataset:
    creds = _with_org(creds, org_id)
    parsed = routing.parse(path)
    if parsed.version is not None:
        raise PathError(
            f"{_display(path)!r}: a new dataset has no branches yet; drop '@{parsed.version}'"
        )
    storage = await routing.open_storage(parsed, creds=creds, token=token)
    engine = await DatasetEngine.create(storage, overwrite=overwrite)
    return AsyncDataset(engine, _display(path))


def empty(
    path: PathLike,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
) -> Dataset:
    """Create an empty dataset at ``path``. Raises ``DatasetExistsError`` if one is there
    (pass ``overwrite=True`` to replace it)."""
    return Dataset(
        _loop.run(empty_async(path, overwrite=overwrite, creds=creds, token=token, org_id=org_id))
    )


async def load_async(
    path: PathLike,
    read_only: bool | None = None,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
    lock_timeout: float | None = 0,
) -> AsyncDataset:
    return await _load(path, read_only, _with_org(creds, org_id), token, True, lock_timeout)


async def _load(
    path: PathLike,
    read_only: bool | None,
    creds: Any,
    token: str | None,
    eager: bool,
    lock_timeout: float | None = 0,
) -> AsyncDataset:
    # ``eager``: load every visible tensor's meta and info now, so that attribute access on
    # the async object model costs no I/O. The sync façade loads tensors on first use instead.
    parsed = routing.parse(path)
    storage = await routing.open_storage(
        parsed, read_only=bool(read_only), creds=creds, token=token
    )
    engine = await DatasetEngine.open(storage, parsed.version, load_tensors=eager)
    engine.lock_timeout = lock_timeout
    return AsyncDataset(engine, _display(path), eager=eager)


def load(
    path: PathLike,
    read_only: bool | None = None,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
    lock_timeout: float | None = 0,
) -> Dataset:
    """Open the dataset at ``path`` (``path@branch`` or ``path@commit`` for a version).
    Raises ``DatasetNotFoundError`` when there is none. ``creds={"creds_key": "k"}`` with
    ``org_id="org"``: credentials vended by the platform from the org's managed key.

    The first write takes the branch head's write lock (deeplake's ``dataset_lock.lock``),
    held until ``ds.close()`` or the end of the process; if another writer (shoal or deeplake)
    holds it, a write raises ``DatasetLockedError`` naming it, or waits up to
    ``lock_timeout`` seconds for it (None: as long as it takes)."""
    creds = _with_org(creds, org_id)
    return Dataset(_loop.run(_load(path, read_only, creds, token, False, lock_timeout)))


async def dataset_async(
    path: PathLike,
    read_only: bool | None = None,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
) -> AsyncDataset:
    return await _dataset(path, read_only, overwrite, creds, token, eager=True)


async def _dataset(
    path: PathLike,
    read_only: bool | None,
    overwrite: bool,
    creds: Any,
    token: str | None,
    eager: bool,
) -> AsyncDataset:
    if not overwrite and await exists_async(path, creds=creds, token=token):
        return await _load(path, read_only, creds, token, eager)
    if read_only:
        raise DatasetNotFoundError(
            f"no dataset at {_display(path)!r} to open read-only; create it first"
        )
    return await empty_async(path, overwrite=overwrite, creds=creds, token=token)


def dataset(
    path: PathLike,
    read_only: bool | None = None,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
) -> Dataset:
    """Load the dataset at ``path`` if it exists, else create it."""
    return Dataset(_loop.run(_dataset(path, read_only, overwrite, creds, token, eager=False)))


async def exists_async(path: PathLike, creds: Any = None, token: str | None = None) -> bool:
    parsed = routing.parse(path)
    storage = await routing.open_storage(parsed, read_only=True, creds=creds, token=token)
    try:
        return await DatasetEngine.exists(storage)
    finally:
        await storage.close()


def exists(path: PathLike, creds: Any = None, token: str | None = None) -> bool:
    """Whether a dataset exists at ``path``."""
    return _loop.run(exists_async(path, creds=creds, token=token))


async def delete_async(path: PathLike, creds: Any = None, token: str | None = None) -> None:
    parsed = routing.parse(path)
    storage = await routing.open_storage(parsed, creds=creds, token=token)
    try:
        if storage.read_only:
            raise ReadOnlyError(f"cannot delete {_display(path)!r}: storage is read-only")
        if not await DatasetEngine.exists(storage):
            raise DatasetNotFoundError(f"no dataset at {_display(path)!r} to delete")
        await check_no_writer(storage)  # not from under another writer's feet
        await storage.delete_prefix("")
    finally:
        await storage.close()


def delete(path: PathLike, creds: Any = None, token: str | None = None) -> None:
    """Delete the dataset at ``path`` and all its data."""
    _loop.run(delete_async(path, creds=creds, token=token))


async def connect_async(
    src_path: str,
    creds_key: str,
    dest_path: str | None = None,
    org_id: str | None = None,
    ds_name: str | None = None,
    token: str | None = None,
) -> AsyncDataset:
    """Connect ``src_path`` and open it through its new ``hub://`` path."""
    path = await connect_path_async(src_path, creds_key, dest_path, org_id, ds_name, token)
    return await load_async(path, token=token)


def connect(
    src_path: str,
    creds_key: str,
    dest_path: str | None = None,
    org_id: str | None = None,
    ds_name: str | None = None,
    token: str | None = None,
) -> Dataset:
    """Connect the ``s3://``/``gcs://`` dataset at ``src_path`` to the platform as
    ``dest_path`` (``hub://org/name``) or in ``org_id`` (named ``ds_name``, else the last part
    of ``src_path``), reached with the org's creds key ``creds_key``; the dataset, opened
    through its ``hub://`` path."""
    path = _loop.run(connect_path_async(src_path, creds_key, dest_path, org_id, ds_name, token))
    return load(path, token=token)
