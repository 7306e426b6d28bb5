"""The async storage provider interface every backend implements.

Keys are ``/``-separated paths relative to the provider's root. Byte ranges are half-open
``[start, end)``. A missing key raises :class:`shoal.errors.NotFoundError` (also a
``FileNotFoundError``); a write on a read-only provider raises
:class:`shoal.errors.ReadOnlyError`.

Batch methods have default implementations built on ``asyncio.gather`` with a concurrency
bound; backends override them when they can do better. The defaults do not make a batch
atomic: a failure part way leaves the keys written so far in place.
"""

from __future__ import annotations

import abc
import asyncio
import urllib.parse
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import TypeVar

from ..errors import ReadOnlyError
from . import _ranges

T = TypeVar("T")

DEFAULT_CONCURRENCY = 64


async def bounded_gather(aws: Iterable[Awaitable[T]], limit: int = DEFAULT_CONCURRENCY) -> list[T]:
    """``asyncio.gather`` with at most ``limit`` awaitables in flight; results keep order.

    Unlike a bare gather, a failure is raised only after every other awaitable has finished:
    a caller rolling back a batch of writes must know that none is still in flight.
    """
    sem = asyncio.Semaphore(limit)

    async def one(aw: Awaitable[T]) -> T:
        async with sem:
            return await aw

    results = await asyncio.gather(*(one(aw) for aw in aws), return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]


def on_loopback(url: str) -> bool:
    """Whether ``url`` names a server on this machine's loopback interface."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class Storage(abc.ABC):
    """An async key → bytes store rooted at one location."""

    #: Human-readable location (no credentials), used in error messages.
    url: str
    read_only: bool
    #: True where a request has a real round-trip cost: reads then fetch only the byte ranges
    #: they need instead of whole chunks.
    remote: bool = False
    #: :meth:`get_ranges` on a remote store merges ranges at most this many bytes apart ...
    range_merge_gap: int = _ranges.MAX_GAP
    #: ... into requests of at most this many bytes.
    range_merge_max: int = _ranges.MAX_SPAN

    def __init__(self, url: str, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, read_only={self.read_only})"

    @property
    def loopback(self) -> bool:
        """Whether a remote store answers on this machine (an S3-compatible server on
        127.0.0.1, say): there is no network latency for many requests in flight to hide, and
        the server competes with us for the same cores."""
        return False

    def check_writable(self, key: str) -> None:
        if self.read_only:
            raise ReadOnlyError(
                f"cannot write {key!r}: {self.url} is opened read-only; "
                "open it with read_only=False to write"
            )

    # -- reads ------------------------------------------------------------------------------
    @abc.abstractmethod
    async def get(self, key: str) -> bytes:
        """The whole object."""

    async def get_buffer(self, key: str) -> bytes | memoryview:
        """The whole object as a read-only buffer; may avoid a copy (a memory map, say)."""
        return await self.get(key)

    @abc.abstractmethod
    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        """Bytes ``[start, end)`` of the object (``end=None``: to the end). Short if the
        object is shorter."""

    async def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> Sequence[bytes | memoryview]:
        """Several ranges of one object, in the order asked. Where requests cost a round trip
        (``remote``), close neighbours are fetched as one request and split back."""
        if not self.remote:
            return list(await bounded_gather(self.get_range(key, s, e) for s, e in ranges))
        out: list[bytes | memoryview] = [b""] * len(ranges)

        async def fetch(gs: int, ge: int, members: list[tuple[int, int, int]]) -> None:
            data = memoryview(await self.get_range(key, gs, ge))
            for s, e, i in members:
                out[i] = data[s - gs : e - gs]

        groups = _ranges.merge(ranges, self.range_merge_gap, self.range_merge_max)
        await bounded_gather(fetch(*g) for g in groups)
        return out

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Many whole objects concurrently; ``None`` for the missing ones."""

        async def one(key: str) -> bytes | None:
            try:
                return await self.get(key)
            except FileNotFoundError:
                return None

        return await bounded_gather(one(k) for k in keys)

    @abc.abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether the object exists."""

    @abc.abstractmethod
    async def list(self, prefix: str = "") -> list[str]:
        """All keys under ``prefix`` (a key prefix, not only a directory), sorted."""

    # -- writes -----------------------------------------------------------------------------
    @abc.abstractmethod
    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        """Write the object whole. Readers see either the old or the new object, never a mix."""

    async def put_parts(self, key: str, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        """Write the object whole from several buffers, in order (a chunk rebuilt from the
        pieces of another). Providers that can write pieces in turn avoid joining them."""
        await self.put(key, b"".join(parts))

    async def put_many(self, items: Mapping[str, bytes | bytearray | memoryview]) -> None:
        """Write many objects concurrently."""
        await bounded_gather(self.put(k, v) for k, v in items.items())

    async def put_if_absent(self, key: str, data: bytes) -> bool | None:
        """Write the object only if there is none under ``key``, in one atomic step: True if
        written, False if an object was there. None: this store cannot do it atomically
        (the default), and nothing was written."""
        return None

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Delete the object; a missing object is not an error."""

    async def delete_prefix(self, prefix: str = "") -> None:
        """Delete every object under ``prefix``."""
        self.check_writable(prefix)
        await bounded_gather(self.delete(k) for k in await self.list(prefix))

    async def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release connections and pools. The default has nothing to release."""
