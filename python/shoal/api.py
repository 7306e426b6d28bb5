"""Top-level functions: ``empty``, ``load``, ``dataset``, ``exists``, ``delete``.

Each ``_async`` twin returns an :class:`AsyncDataset` (for async code: attribute access never
does I/O, reads and writes are awaited); the sync function returns a :class:`Dataset` over
the same object, whose calls run on shoal's background loop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import _deeplake_options, _loop, routing
from ._dataset_admin import refuse_if_large
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
    *,
    runtime: dict[str, Any] | None = None,
    public: bool = False,
    memory_cache_size: int = 2000,
    local_cache_size: int = 0,
    verbose: bool = True,
    lock_timeout: float | None = 0,
    lock_enabled: bool = True,
    index_params: dict[str, Any] | None = None,
) -> AsyncDataset:
    _deeplake_options.check("empty", runtime=runtime, index_params=index_params)
    creds = _with_org(creds, org_id)
    parsed = routing.parse(path)
    if parsed.version is not None:
        raise PathError(
            f"{_display(path)!r}: a new dataset has no branches yet; drop '@{parsed.version}'"
        )
    storage = await routing.open_storage(parsed, creds=creds, token=token)
    engine = await DatasetEngine.create(storage, overwrite=overwrite)
    engine.lock_timeout, engine.lock_enabled = lock_timeout, lock_enabled
    if public and str(path).startswith("hub://"):  # as deeplake: only the platform's are
        from .auth.hub_datasets import set_public_async

        await set_public_async(str(path), True, token=token)
    return AsyncDataset(engine, _display(path))


def empty(
    path: PathLike,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
    *,
    runtime: dict[str, Any] | None = None,
    public: bool = False,
    memory_cache_size: int = 2000,
    local_cache_size: int = 0,
    verbose: bool = True,
    lock_timeout: float | None = 0,
    lock_enabled: bool = True,
    index_params: dict[str, Any] | None = None,
) -> Dataset:
    """Create an empty dataset at ``path``. Raises ``DatasetExistsError`` if one is there
    (pass ``overwrite=True`` to replace it). ``public=True`` makes a ``hub://`` dataset
    readable by anyone; ``lock_enabled=False`` writes without taking the write lock (as
    deeplake's: two writers are then yours to keep apart); deeplake's other options are
    accepted where they change nothing, and refused by name where shoal lacks their effect."""
    return Dataset(
        _loop.run(
            empty_async(
                path,
                overwrite=overwrite,
                creds=creds,
                token=token,
                org_id=org_id,
                runtime=runtime,
                public=public,
                lock_timeout=lock_timeout,
                lock_enabled=lock_enabled,
                index_params=index_params,
            )
        )
    )


async def load_async(
    path: PathLike,
    read_only: bool | None = None,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
    lock_timeout: float | None = 0,
    *,
    memory_cache_size: int = 2000,
    local_cache_size: int = 0,
    verbose: bool = True,
    access_method: str = "stream",
    unlink: bool = False,
    reset: bool = False,
    indra: bool = False,
    check_integrity: bool | None = None,
    lock_enabled: bool = True,
    index_params: dict[str, Any] | None = None,
) -> AsyncDataset:
    _deeplake_options.check(
        "load", access_method=access_method, unlink=unlink, indra=indra, index_params=index_params
    )
    return await _load(
        path, read_only, _with_org(creds, org_id), token, True, lock_timeout, lock_enabled
    )


async def _load(
    path: PathLike,
    read_only: bool | None,
    creds: Any,
    token: str | None,
    eager: bool,
    lock_timeout: float | None = 0,
    lock_enabled: bool = True,
) -> AsyncDataset:
    # ``eager``: load every visible tensor's meta and info now, so that attribute access on
    # the async object model costs no I/O. The sync façade loads tensors on first use instead.
    parsed = routing.parse(path)
    storage = await routing.open_storage(
        parsed, read_only=bool(read_only), creds=creds, token=token
    )
    engine = await DatasetEngine.open(storage, parsed.version, load_tensors=eager)
    engine.lock_timeout, engine.lock_enabled = lock_timeout, lock_enabled
    return AsyncDataset(engine, _display(path), eager=eager)


def load(
    path: PathLike,
    read_only: bool | None = None,
    creds: Any = None,
    token: str | None = None,
    org_id: str | None = None,
    lock_timeout: float | None = 0,
    *,
    memory_cache_size: int = 2000,
    local_cache_size: int = 0,
    verbose: bool = True,
    access_method: str = "stream",
    unlink: bool = False,
    reset: bool = False,
    indra: bool = False,
    check_integrity: bool | None = None,
    lock_enabled: bool = True,
    index_params: dict[str, Any] | None = None,
) -> Dataset:
    """Open the dataset at ``path`` (``path@branch`` or ``path@commit`` for a version).
    Raises ``DatasetNotFoundError`` when there is none. ``creds={"creds_key": "k"}`` with
    ``org_id="org"``: credentials vended by the platform from the org's managed key.

    The first write takes the branch head's write lock (deeplake's ``dataset_lock.lock``),
    held until ``ds.close()`` or the end of the process; if another writer (shoal or deeplake)
    holds it, a write raises ``DatasetLockedError`` naming it, or waits up to
    ``lock_timeout`` seconds for it (None: as long as it takes).

    deeplake's other options (``verbose``, ``memory_cache_size``, ``access_method``,
    ``reset``, ``check_integrity``, ...) are accepted where they change nothing, and refused by
    name where shoal lacks their effect; ``lock_enabled=False`` writes without taking the
    write lock (as deeplake's: two writers are then yours to keep apart)."""
    _deeplake_options.check(
        "load", access_method=access_method, unlink=unlink, indra=indra, index_params=index_params
    )
    creds = _with_org(creds, org_id)
    return Dataset(
        _loop.run(_load(path, read_only, creds, token, False, lock_timeout, lock_enabled))
    )


async def dataset_async(
    path: PathLike,
    read_only: bool | None = None,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
    **options: Any,
) -> AsyncDataset:
    return await _dataset(path, read_only, overwrite, creds, token, eager=True, **options)


async def _dataset(
    path: PathLike,
    read_only: bool | None,
    overwrite: bool,
    creds: Any,
    token: str | None,
    eager: bool,
    runtime: dict[str, Any] | None = None,
    public: bool = False,
    memory_cache_size: int = 2000,
    local_cache_size: int = 0,
    org_id: str | None = None,
    verbose: bool = True,
    access_method: str = "stream",
    unlink: bool = False,
    reset: bool = False,
    check_integrity: bool | None = None,
    lock_enabled: bool = True,
    lock_timeout: float | None = 0,
    index_params: dict[str, Any] | None = None,
    indra: bool = False,
) -> AsyncDataset:
    _deeplake_options.check(
        "dataset",
        access_method=access_method,
        runtime=runtime,
        indra=indra,
        index_params=index_params,
        unlink=unlink,
    )
    creds = _with_org(creds, org_id)
    if not overwrite and await exists_async(path, creds=creds, token=token):
        return await _load(path, read_only, creds, token, eager, lock_timeout, lock_enabled)
    if read_only:
        raise DatasetNotFoundError(
            f"no dataset at {_display(path)!r} to open read-only; create it first"
        )
    return await empty_async(
        path,
        overwrite=overwrite,
        creds=creds,
        token=token,
        public=public,
        lock_timeout=lock_timeout,
        lock_enabled=lock_enabled,
    )


def dataset(
    path: PathLike,
    read_only: bool | None = None,
    overwrite: bool = False,
    creds: Any = None,
    token: str | None = None,
    *,
    runtime: dict[str, Any] | None = None,
    public: bool = False,
    memory_cache_size: int = 2000,
    local_cache_size: int = 0,
    org_id: str | None = None,
    verbose: bool = True,
    access_method: str = "stream",
    unlink: bool = False,
    reset: bool = False,
    check_integrity: bool | None = None,
    lock_enabled: bool = True,
    lock_timeout: float | None = 0,
    index_params: dict[str, Any] | None = None,
    indra: bool = False,
) -> Dataset:
    """Load the dataset at ``path`` if it exists, else create it (deeplake's options as in
    :func:`load` and :func:`empty`)."""
    return Dataset(
        _loop.run(
            _dataset(
                path,
                read_only,
                overwrite,
                creds,
                token,
                eager=False,
                runtime=runtime,
                public=public,
                org_id=org_id,
                access_method=access_method,
                unlink=unlink,
                lock_enabled=lock_enabled,
                lock_timeout=lock_timeout,
                index_params=index_params,
                indra=indra,
            )
        )
    )


async def exists_async(
    path: PathLike, creds: Any = None, token: str | None = None, org_id: str | None = None
) -> bool:
    creds = _with_org(creds, org_id)
    parsed = routing.parse(path)
    storage = await routing.open_storage(parsed, read_only=True, creds=creds, token=token)
    try:
        return await DatasetEngine.exists(storage)
    finally:
        await storage.close()


def exists(
    path: PathLike, creds: Any = None, token: str | None = None, org_id: str | None = None
) -> bool:
    """Whether a dataset exists at ``path``."""
    return _loop.run(exists_async(path, creds=creds, token=token, org_id=org_id))


async def delete_async(
    path: PathLike,
    creds: Any = None,
    token: str | None = None,
    *,
    force: bool = False,
    large_ok: bool = False,
    org_id: str | None = None,
    verbose: bool = False,
) -> None:
    creds = _with_org(creds, org_id)
    parsed = routing.parse(path)
    storage = await routing.open_storage(parsed, creds=creds, token=token)
    try:
        if storage.read_only:
            raise ReadOnlyError(f"cannot delete {_display(path)!r}: storage is read-only")
        if not await DatasetEngine.exists(storage):
            if not force:
                raise DatasetNotFoundError(
                    f"no dataset at {_display(path)!r} to delete; force=True deletes whatever "
                    "is stored there"
                )
        elif not large_ok:
            await refuse_if_large(await load_async(path, read_only=True, creds=creds, token=token))
        await check_no_writer(storage)  # not from under another writer's feet
        await storage.delete_prefix("")
    finally:
        await storage.close()


def delete(
    path: PathLike,
    creds: Any = None,
    token: str | None = None,
    *,
    force: bool = False,
    large_ok: bool = False,
    org_id: str | None = None,
    verbose: bool = False,
) -> None:
    """Delete the dataset at ``path`` and all its data; above 1 GB only with ``large_ok``
    (as deeplake); ``force``: whatever is stored there, a dataset or not."""
    _loop.run(
        delete_async(path, creds=creds, token=token, force=force, large_ok=large_ok, org_id=org_id)
    )


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
