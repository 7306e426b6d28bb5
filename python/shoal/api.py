"""Top-level functions: ``empty``, ``load``, ``dataset``, ``exists``, ``delete``.

Each ``_async`` twin returns an :class:`AsyncDataset` (for async code: attribute access never
does I/O, reads and writes are awaited); the sync function returns a :class:`Dataset` over
the same object, whose calls run on shoal's background loop."""

from __future__ import annotations

import os
from typing import Any

from . import _loop, routing
from .dataset import AsyncDataset, Dataset
from .engine.dataset import DatasetEngine
from .errors import DatasetNotFoundError, PathError, ReadOnlyError

PathLike = str | os.PathLike[str]


def _display(path: PathLike) -> str:
    return os.fspath(path)


async def empty_async(
    path: PathLike, overwrite: bool = False, creds: Any = None, token: str | None = None
) -> AsyncDataset:
    parsed = routing.parse(path)
    if parsed.version is not None:
        raise PathError(
            f"{_display(path)!r}: a new dataset has no branches yet; drop '@{parsed.version}'"
        )
    storage = await routing.open_storage(parsed, creds=creds, token=token)
    engine = await DatasetEngine.create(storage, overwrite=overwrite)
    return AsyncDataset(engine, _display(path))


def empty(
    path: PathLike, overwrite: bool = False, creds: Any = None, token: str | None = None
) -> Dataset:
    """Create an empty dataset at ``path``. Raises ``DatasetExistsError`` if one is there
    (pass ``overwrite=True`` to replace it)."""
    return Dataset(_loop.run(empty_async(path, overwrite=overwrite, creds=creds, token=token)))


async def load_async(
    path: PathLike,
    read_only: bool | None = None,
    creds: Any = None,
    token: str | None = None,
) -> AsyncDataset:
    return await _load(path, read_only, creds, token, eager=True)


async def _load(
    path: PathLike, read_only: bool | None, creds: Any, token: str | None, eager: bool
) -> AsyncDataset:
    # ``eager``: load every visible tensor's meta and info now, so that attribute access on
    # the async object model costs no I/O. The sync façade loads tensors on first use instead.
    parsed = routing.parse(path)
    storage = await routing.open_storage(
        parsed, read_only=bool(read_only), creds=creds, token=token
    )
    engine = await DatasetEngine.open(storage, parsed.version, load_tensors=eager)
    return AsyncDataset(engine, _display(path), eager=eager)


def load(
    path: PathLike,
    read_only: bool | None = None,
    creds: Any = None,
    token: str | None = None,
) -> Dataset:
    """Open the dataset at ``path`` (``path@branch`` or ``path@commit`` for a version).
    Raises ``DatasetNotFoundError`` when there is none."""
    return Dataset(_loop.run(_load(path, read_only, creds, token, eager=False)))


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
        await storage.delete_prefix("")
    finally:
        await storage.close()


def delete(path: PathLike, creds: Any = None, token: str | None = None) -> None:
    """Delete the dataset at ``path`` and all its data."""
    _loop.run(delete_async(path, creds=creds, token=token))
