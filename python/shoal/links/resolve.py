"""Where linked files are read from: one store per (creds key, bucket), reused across reads.

A dataset has one :class:`LinkResolver`. It holds the dataset's creds keys (loaded from
``linked_creds.json`` on first use), opens the storage providers a URL needs with the
credentials of its key (populated ones, or ones the platform vends for a managed key and
refreshes before they expire), and fetches many files concurrently, bounded by
``SHOAL_LINK_CONCURRENCY`` (default 64). Every failure names the sample index, the URL and
the key, never a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from .._env import env_int
from ..errors import (
    CredentialsError,
    InvalidCredsError,
    LinkError,
    NotFoundError,
    PlatformError,
    ShoalError,
)
from . import creds as creds_mod
from .creds import LinkCreds
from .sample import path_kind

if TYPE_CHECKING:
    import aiohttp

    from ..auth.platform_api import PlatformClient
    from ..storage import Storage

DEFAULT_CONCURRENCY = 64
REVEND_MARGIN = 30.0  # seconds before vended credentials expire when they are asked again
HTTP_TIMEOUT = 60.0
LOCK_WAIT = 10.0  # deeplake's: the lock record's validity and how long a writer waits

Item = tuple[int, str, "str | None"]  # (sample index, URL, creds key)


def _split_cloud(path: str) -> tuple[str, str]:
    """``("bucket", "a/b.jpg")`` of ``s3://bucket/a/b.jpg``."""
    rest = path.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key


class LinkResolver:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage  # the dataset's own: linked_creds.json lives there
        self.creds = LinkCreds()
        self._stores: dict[tuple[str | None, str, str], Storage] = {}
        self._expires: dict[tuple[str | None, str, str], float | None] = {}
        self._opening: dict[tuple[str | None, str, str], asyncio.Future[Storage]] = {}
        self._http: aiohttp.ClientSession | None = None
        self._batches = 0
        self._limit = env_int("SHOAL_LINK_CONCURRENCY", DEFAULT_CONCURRENCY, min=1)
        self._sem: asyncio.Semaphore | None = None

    def __repr__(self) -> str:
        return f"LinkResolver({self.storage.url!r}, {self.creds!r})"

    # -- linked_creds.json -------------------------------------------------------------------
    async def load(self) -> LinkCreds:
        if not self.creds.loaded:
            raw = (await self.storage.get_many([creds_mod.KEY]))[0]
            if not self.creds.loaded:
                fresh = LinkCreds.parse(raw, f"{self.storage.url}/{creds_mod.KEY}")
                fresh.secrets = self.creds.secrets
                self.creds = fresh
        return self.creds

    async def save(self) -> None:
        """Store the key names (never secrets), merged with what another writer stored, under
        deeplake's lock for it (``linked_creds.lock``: 10 s records, waited for up to 10 s,
        as ``deeplake.util.link.save_link_creds`` takes it), so two writers adding keys at
        once both keep theirs, shoal or deeplake."""
        if not self.creds.dirty:
            return
        from ..engine.lock import WriteLock

        lock = WriteLock(self.storage, creds_mod.LOCK_KEY, timeout=LOCK_WAIT, validity=LOCK_WAIT)
        await lock.acquire()
        try:
            raw = (await self.storage.get_many([creds_mod.KEY]))[0]
            self.creds.merge_stored(LinkCreds.parse(raw, f"{self.storage.url}/{creds_mod.KEY}"))
            await self.storage.put(creds_mod.KEY, self.creds.to_bytes())
            self.creds.dirty = False
        finally:
            await lock.release()

    # -- the platform, for managed keys ------------------------------------------------------
    def platform(self) -> tuple[str, PlatformClient]:
        """The org and platform client managed keys are fetched through: the dataset's own
        (a ``hub://`` dataset, or one opened with a managed key)."""
        from ..storage._managed import managed_source_of

        source = managed_source_of(self.storage)
        if source is not None:
            return source.org, source.client
        org, client = getattr(self.storage, "org", None), getattr(self.storage, "client", None)
        if isinstance(org, str) and client is not None:
            return org, client
        raise InvalidCredsError(
            f"managed creds keys need a dataset of an organization: {self.storage.url} is not "
            "a hub:// dataset nor opened with creds={'creds_key': ...}, org_id=...; use "
            "ds.add_creds_key(key) and ds.populate_creds(key, {...}) instead"
        )

    async def check_managed(self, key: str) -> None:
        """Ask the platform for the key once: an unknown key or a refusal fails here."""
        from ..auth.platform_names import check_name

        org, client = self.platform()
        await client.request(
            "GET", f"/api/org/{check_name(org)}/storage/name", params={"query": key, "mode": "r"}
        )

    def forget_stores(self, key: str | None = None) -> None:
        for k in [k for k in self._stores if key is None or k[0] == key]:
            self._stores.pop(k)

    # -- stores ------------------------------------------------------------------------------
    async def _store(self, key: str | None, kind: str, bucket: str, index: int) -> Storage:
        slot = (key, kind, bucket)
        found = self._stores.get(slot)
        expires = self._expires.get(slot)
        if found is not None and expires is not None and time.time() > expires - REVEND_MARGIN:
            # A managed key's credentials are vended again before they expire: a key the
            # admin rotated meanwhile takes effect here, without reopening the dataset.
            self._stores.pop(slot, None)
            found = None
        if found is not None:
            return found
        pending = self._opening.get(slot)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[Storage] = asyncio.get_running_loop().create_future()
        self._opening[slot] = fut
        try:
            store = await self._open(key, kind, bucket, index)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            self._opening.pop(slot, None)
        fut.set_result(store)
        self._stores[slot] = store
        from ..storage._managed import managed_source_of

        source = managed_source_of(store)
        self._expires[slot] = source.expiration if source is not None else None
        return store

    async def _open(self, key: str | None, kind: str, bucket: str, index: int) -> Storage:
        if key is None:
            raise InvalidCredsError(f"sample {index}: {kind} links need a creds key")
        secrets = self.creds.check_ready(key, index, kind)
        url = f"{kind}://{bucket}"
        if secrets is None:  # managed: the platform vends short-lived read-only credentials
            from ..storage._managed import open_managed

            org, client = self.platform()
            return await open_managed(
                kind, bucket, {"creds_key": key, "org_id": org}, read_only=True, client=client
            )
        from ..routing import open_storage, parse

        return await open_storage(parse(url), read_only=True, creds=dict(secrets) or None)

    # -- fetching ----------------------------------------------------------------------------
    async def get(
        self, index: int, path: str, key: str | None, *, view: bool = False
    ) -> bytes | memoryview:
        """The bytes of one linked file (``view``: maybe the buffer it was read into, not a
        copy of it)."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self._limit)
        async with self._sem:
            try:
                data = await self._get(index, path, key, retry=True)
                return data if view else bytes(data)
            except (LinkError, InvalidCredsError):
                raise  # already names the sample (and the key)
            except (TimeoutError, ShoalError, OSError) as exc:
                raise _link_error(index, path, key, exc) from exc

    async def _get(self, index: int, path: str, key: str | None, retry: bool) -> bytes | memoryview:
        kind = path_kind(path)
        if kind == "local":
            return await asyncio.to_thread(_read_local, path)
        if kind == "http":
            return await self._get_http(index, path, key)
        if kind == "azure":
            raise LinkError(
                f"sample {index}: {path!r} is an Azure URL; shoal reads s3://, gcs://, http(s):// "
                "and local links",
                index,
                path,
                key,
            )
        bucket, obj = _split_cloud(path)
        store = await self._store(key, kind, bucket, index)
        try:
            return await store.get_buffer(obj)
        except CredentialsError:
            if not (retry and key is not None and key in self.creds.managed):
                raise
            # Vended credentials can be revoked or rotated early: ask for fresh ones once.
            self._stores.pop((key, kind, bucket), None)
            return await self._get(index, path, key, retry=False)

    async def _get_http(self, index: int, path: str, key: str | None) -> bytes:

        headers: dict[str, str] = {}
        if key is not None:
            secrets = self.creds.check_ready(key, index, "http") or {}
            if "Authorization" in secrets:
                headers["Authorization"] = str(secrets["Authorization"])
            elif "access_token" in secrets:
                headers["Authorization"] = f"Bearer {secrets['access_token']}"
        async with self.batch():
            assert self._http is not None
            return await self._http_get(self._http, index, path, key, headers)

    async def _http_get(
        self,
        session: aiohttp.ClientSession,
        index: int,
        path: str,
        key: str | None,
        headers: dict[str, str],
    ) -> bytes:
        import aiohttp

        try:
            async with session.get(path, headers=headers) as resp:
                if resp.status == 404:
                    raise NotFoundError(f"{path} answered 404 Not Found")
                if resp.status in (401, 403):
                    raise CredentialsError(f"{path} refused the request ({resp.status})")
                if resp.status >= 400:
                    raise LinkError(
                        f"sample {index}: {path} answered HTTP {resp.status}", index, path, key
                    )
                return await resp.read()
        except aiohttp.ClientError as exc:
            raise LinkError(
                f"sample {index}: {path} is unreachable ({type(exc).__name__}); check the URL "
                "and that the server is up",
                index,
                path,
                key,
            ) from exc

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Reads inside share one http session, closed when the outermost batch ends."""
        import aiohttp

        self._batches += 1
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT))
        try:
            yield
        finally:
            self._batches -= 1
            if not self._batches and self._http is not None:
                session, self._http = self._http, None
                await session.close()

    async def get_many(self, items: Sequence[Item]) -> list[bytes]:
        """Every item's bytes, fetched concurrently (bounded). If some fail, the error of the
        first failing sample (in the order given) is raised, naming it."""
        async with self.batch():
            got = await asyncio.gather(*(self.get(*it) for it in items), return_exceptions=True)
        for g in got:
            if isinstance(g, BaseException):
                raise g
        return got  # type: ignore[return-value]


def _read_local(path: str) -> bytes:
    if path.startswith("file://"):
        path = path[len("file://") :]
    with open(os.path.expanduser(path), "rb") as f:
        return f.read()


def _link_error(index: int, path: str, key: str | None, exc: BaseException) -> LinkError:
    via = f" with creds key {key!r}" if key else ""
    if isinstance(exc, PlatformError):  # before the builtin kinds some platform errors share
        what = f"could not get credentials for creds key {key!r} from the platform"
    elif isinstance(exc, FileNotFoundError | NotFoundError):
        what = "does not exist"
    elif isinstance(exc, PermissionError | CredentialsError):
        what = f"refused access{via}"
    else:
        what = f"could not be read{via}"
    return LinkError(f"sample {index}: linked file {path!r} {what}: {exc}", index, path, key)
