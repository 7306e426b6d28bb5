"""The storage provider for ``hub://org/name`` paths.

:func:`open_storage` (the router's entry point) makes **one** platform call, for the
dataset's grant (:mod:`shoal.auth.hub_grants`, cached), and opens the storage URL it names
with the local, S3 or GCS provider and the vended credentials. Vended S3 and GCS credentials
are refreshed from the platform before they expire, so a read or write in flight never sees
them lapse. If the platform says the user may only read, the dataset opens read-only and a
write says why.

Reads and writes go straight to the store; the platform only hears that a dataset exists when
its ``dataset_meta.json`` is first written (so a failed ``shoal.empty`` leaves no entry behind)
and that it is gone when the whole dataset is deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Mapping, Sequence

from ..auth.hub_grants import Grant, GrantRefresher, forget, gcs_token, get_grant, s3_session
from ..auth.hub_trust import vetted_store
from ..auth.platform_api import PlatformClient
from ..auth.platform_names import split_location
from ..errors import DatasetNotFoundError, PathError, ReadOnlyError
from ..format import keys
from ._base import Storage
from ._local import LocalStorage
from ._platform_get import LEAN_GET

__all__ = ["HubStorage", "open_storage"]

log = logging.getLogger("shoal.storage.hub")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_GCS = ("gcs", "gs", "gcp")


class HubStorage(Storage):
    """The dataset's real storage, behind its ``hub://org/name`` identity: reads and writes go
    straight to the store; the platform hears about creation and deletion."""

    def __init__(
        self,
        org: str,
        name: str,
        inner: Storage,
        client: PlatformClient,
        grant: Grant,
        *,
        read_only: bool,
        read_only_requested: bool = False,
        refresher: GrantRefresher | None = None,
    ) -> None:
        super().__init__(f"hub://{org}/{name}", read_only)
        self.org, self.name = org, name
        self.inner = inner
        self.client = client
        self.grant = grant
        self.remote = inner.remote
        #: The platform-backed credential source of the S3 or GCS store, if it has one.
        self.refresher = refresher
        #: The caller asked for read-only (the grant then is read-only too, by request).
        self.read_only_requested = read_only_requested
        self._registered = grant.registered

    @property
    def storage_url(self) -> str:
        """Where the data really is."""
        return self.grant.path

    def check_writable(self, key: str) -> None:
        if not self.read_only:
            return
        if not self.grant.writable and not self.read_only_requested:
            who = self.grant.user or "you"
            role = self.grant.role
            raise ReadOnlyError(
                f"cannot write {key!r}: {self.url} is read-only for {who} "
                f"({'a public dataset' if role == 'public' else f'role {role!r} in {self.org!r}'}); "
                f"ask an admin of {self.org!r} for the 'write' role"
            )
        super().check_writable(key)

    # -- reads -----------------------------------------------------------------------------
    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def get_buffer(self, key: str) -> bytes | memoryview:
        return await self.inner.get_buffer(key)

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        return await self.inner.get_range(key, start, end)

    async def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> Sequence[bytes | memoryview]:
        return await self.inner.get_ranges(key, ranges)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return await self.inner.get_many(keys)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def list(self, prefix: str = "") -> list[str]:
        return await self.inner.list(prefix)

    # -- writes ----------------------------------------------------------------------------
    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.check_writable(key)
        await self.inner.put(key, data)
        if key == keys.DATASET_META and not self._registered:
            await self._register(data)

    async def put_many(self, items: Mapping[str, bytes | bytearray | memoryview]) -> None:
        self.check_writable(next(iter(items), ""))
        await self.inner.put_many(items)
        meta = items.get(keys.DATASET_META)
        if meta is not None and not self._registered:
            await self._register(meta)

    async def delete(self, key: str) -> None:
        self.check_writable(key)
        await self.inner.delete(key)

    async def delete_prefix(self, prefix: str = "") -> None:
        self.check_writable(prefix)
        if not (prefix == "" and self.grant.connected):
            # a connected dataset's data is the user's: deleting the hub:// dataset removes
            # the entry; the data goes only when deleted through its own s3://, gcs:// path
            await self.inner.delete_prefix(prefix)
        if prefix == "" and self._registered:
            with contextlib.suppress(DatasetNotFoundError):  # someone removed it first
                await self.client.delete_dataset_entry(self.org, self.name)
            self._registered = False
            forget(self.client.url, f"{self.org}/{self.name}")

    async def close(self) -> None:
        await self.inner.close()

    async def _register(self, raw_meta: bytes | bytearray | memoryview) -> None:
        try:
            meta = json.loads(bytes(raw_meta))
        except ValueError:
            meta = {}
        await self.client.register_dataset(
            self.org, self.name, meta if isinstance(meta, dict) else {}
        )
        self._registered = True
        forget(self.client.url, f"{self.org}/{self.name}")


async def open_storage(
    location: str,
    *,
    read_only: bool = False,
    creds: object = None,
    token: str | None = None,
) -> HubStorage:
    """The router's entry point for ``hub://org/name`` (``location`` is ``"org/name"``).

    ``creds`` (optional) replaces the vended credentials for the store, as in ``deeplake``;
    ``token`` is the platform token (else as :mod:`shoal.auth.login_store` finds one).
    """
    org, name = split_location(location)
    client = PlatformClient(None, token, transport=LEAN_GET)
    mode = "r" if read_only else "w"
    grant = await get_grant(client, org, name, mode)
    ro = read_only or not grant.writable
    if ro and not read_only:
        log.warning(
            "hub://%s/%s opens read-only: %s has %s",
            org,
            name,
            grant.user or "you",
            "read access to a public dataset"
            if grant.role == "public"
            else f"the {grant.role!r} role in {org!r}",
        )
    inner, refresher = await _open_store(client, org, name, mode, grant, read_only=ro, creds=creds)
    return HubStorage(
        org,
        name,
        inner,
        client,
        grant,
        read_only=ro,
        read_only_requested=read_only,
        refresher=refresher,
    )


async def _open_store(
    client: PlatformClient,
    org: str,
    name: str,
    mode: str,
    grant: Grant,
    *,
    read_only: bool,
    creds: object,
) -> tuple[Storage, GrantRefresher | None]:
    """The provider for the grant's storage URL: vended S3 session credentials and GCS tokens
    get a refresher that asks the platform again; static S3 keys are used as they are; a grant
    without credentials reads through the platform. Only what a platform may vend is accepted
    (:mod:`shoal.auth.hub_trust`); the caller's own ``creds`` replace the vended ones."""
    if creds is None and grant.read_via == "platform":
        from ._hub_proxy import PlatformReadStorage

        return PlatformReadStorage(client, org, name), None
    if creds is not None:
        return await _open_with_own_creds(grant.path, creds, read_only=read_only), None
    store = vetted_store(grant.path, grant.creds, client.url)
    if store.scheme == "file":
        return LocalStorage(store.location, read_only=read_only), None
    if store.scheme == "s3":
        from ._s3 import S3Storage, parse_location

        bucket, prefix = parse_location(store.location)
        if store.creds.get("aws_session_token"):
            extra = {k: store.creds[k] for k in ("endpoint_url", "aws_region") if k in store.creds}
            refresher = GrantRefresher(client, org, name, mode, grant, s3_session)
            s3 = await S3Storage.open(
                bucket, prefix, creds=extra or None, read_only=read_only, refresh=refresher
            )
            return s3, refresher
        return await S3Storage.open(bucket, prefix, creds=store.creds, read_only=read_only), None
    from ._gcs import GcsStorage

    refresher = GrantRefresher(client, org, name, mode, grant, gcs_token)
    gcs = await GcsStorage.open(
        store.location, read_only=read_only, creds=gcs_token(grant), refresh=refresher
    )
    return gcs, refresher


async def _open_with_own_creds(path: str, creds: object, *, read_only: bool) -> Storage:
    """The grant's store opened with credentials the caller passed (``creds=``), as in
    ``deeplake``: the caller chose them, so nothing is vetted but the scheme."""
    m = _SCHEME.match(path)
    scheme = m.group(1).lower() if m else "file"
    location = path[m.end() :] if m else path
    if scheme == "s3":
        from ._s3 import open_storage as open_s3

        return await open_s3(location, read_only=read_only, creds=creds)
    if scheme in _GCS:
        from ._gcs import GcsStorage

        return await GcsStorage.open(location, read_only=read_only, creds=creds)
    raise PathError(
        f"creds= was given, but the platform keeps this dataset at a {scheme} location, which "
        "takes no credentials; drop creds="
    )
