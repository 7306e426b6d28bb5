"""The creds-key methods of datasets: ``add_creds_key``, ``populate_creds``,
``update_creds_key``, ``get_creds_keys``, ``get_managed_creds_keys`` (and their ``_async``
twins). Mixed into :class:`~shoal.dataset.AsyncDataset` and :class:`~shoal.dataset.Dataset`.

Key names are stored in ``linked_creds.json`` at once; secrets never are: populated ones live
in the dataset object until it is closed, managed ones are vended by the platform on use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _loop
from ..errors import InvalidCredsError

if TYPE_CHECKING:
    from ..engine.dataset import DatasetEngine
    from .resolve import LinkResolver


def _resolver(engine: DatasetEngine) -> LinkResolver:
    return engine.links


async def add_creds_key(engine: DatasetEngine, key: str, managed: bool = False) -> None:
    engine.check_writable()
    res = _resolver(engine)
    link_creds = await res.load()
    link_creds.check_name(key)
    if key in link_creds.keys:
        raise InvalidCredsError(f"creds key {key!r} already exists in {engine.url}")
    if managed:
        await res.check_managed(key)
    link_creds.add(key, managed)
    await res.save()


async def update_creds_key(
    engine: DatasetEngine, old: str, new: str | None = None, managed: bool | None = None
) -> None:
    engine.check_writable()
    res = _resolver(engine)
    link_creds = await res.load()
    link_creds.require(old)
    if new is None and managed is None:
        raise InvalidCredsError(
            f"update_creds_key({old!r}) changes nothing: pass a new name and/or managed="
        )
    if managed and old not in link_creds.managed:
        await res.check_managed(new or old)
    res.forget_stores(old)
    if new is not None and new != old:
        link_creds.rename(old, new)
    if managed is not None:
        link_creds.set_managed(new or old, managed)
    await res.save()


async def populate_creds(
    engine: DatasetEngine,
    key: str,
    creds: Mapping[str, Any] | None = None,
    from_environment: bool = False,
) -> None:
    if creds is None and not from_environment:
        raise InvalidCredsError(
            f"populate_creds({key!r}) needs creds={{...}}, or from_environment=True to use the "
            "environment's default credentials"
        )
    res = _resolver(engine)
    link_creds = await res.load()
    link_creds.populate(key, {} if creds is None else creds)
    res.forget_stores(key)


class AsyncCredsKeys:
    """Creds keys of an :class:`~shoal.dataset.AsyncDataset`."""

    _engine: DatasetEngine

    async def add_creds_key_async(self, creds_key: str, managed: bool = False) -> None:
        """Add a creds key linked samples can name (``shoal.link(url, creds_key=...)``).
        ``managed=True``: its credentials come from the platform (the dataset must belong to
        an organization: ``hub://org/...``, or opened with ``creds={'creds_key': ...}``);
        otherwise give them with :meth:`populate_creds_async` after each load."""
        await add_creds_key(self._engine, creds_key, managed)

    async def populate_creds_async(
        self,
        creds_key: str,
        creds: Mapping[str, Any] | None = None,
        from_environment: bool = False,
    ) -> None:
        """The credentials of a key, for this session only (never stored): a dict as
        ``shoal.load``'s ``creds=`` takes for s3/gcs, or ``{"Authorization": ...}`` for
        http; ``from_environment=True``: the environment's default credentials."""
        await populate_creds(self._engine, creds_key, creds, from_environment)

    async def update_creds_key_async(
        self, creds_key: str, new_creds_key: str | None = None, managed: bool | None = None
    ) -> None:
        """Rename a key (samples keep using it) and/or change whether it is managed."""
        await update_creds_key(self._engine, creds_key, new_creds_key, managed)

    async def get_creds_keys_async(self) -> list[str]:
        """The dataset's creds key names, in the order they were added."""
        return list((await _resolver(self._engine).load()).keys)

    async def get_managed_creds_keys_async(self) -> list[str]:
        """The names of the keys whose credentials the platform supplies."""
        return sorted((await _resolver(self._engine).load()).managed)


class SyncCredsKeys:
    """Creds keys of a :class:`~shoal.dataset.Dataset` (see :class:`AsyncCredsKeys`)."""

    @property
    def _engine(self) -> DatasetEngine:
        raise NotImplementedError  # the dataset class defines it

    def add_creds_key(self, creds_key: str, managed: bool = False) -> None:
        """Add a creds key linked samples can name; ``managed=True``: the platform supplies
        its credentials (see :meth:`AsyncCredsKeys.add_creds_key_async`)."""
        _loop.run(add_creds_key(self._engine, creds_key, managed))

    def populate_creds(
        self,
        creds_key: str,
        creds: Mapping[str, Any] | None = None,
        from_environment: bool = False,
    ) -> None:
        """The credentials of a key, for this session only (never stored)."""
        _loop.run(populate_creds(self._engine, creds_key, creds, from_environment))

    def update_creds_key(
        self, creds_key: str, new_creds_key: str | None = None, managed: bool | None = None
    ) -> None:
        """Rename a key (samples keep using it) and/or change whether it is managed."""
        _loop.run(update_creds_key(self._engine, creds_key, new_creds_key, managed))

    def get_creds_keys(self) -> list[str]:
        """The dataset's creds key names, in the order they were added."""
        return list(_loop.run(_resolver(self._engine).load()).keys)

    def get_managed_creds_keys(self) -> list[str]:
        """The names of the keys whose credentials the platform supplies."""
        return sorted(_loop.run(_resolver(self._engine).load()).managed)
