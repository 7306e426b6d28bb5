"""A folder of another storage as a storage of its own: where a dataset keeps datasets inside
itself (deeplake's saved views live in ``.queries/<id>/`` of their source dataset).

Every call is the base storage's, under ``<prefix>/``; the base keeps its connections, so
closing this one closes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._base import Storage


class PrefixedStorage(Storage):
    """The keys of ``base`` under ``prefix/``, without the prefix."""

    def __init__(self, base: Storage, prefix: str, read_only: bool | None = None) -> None:
        self._base = base
        self._prefix = prefix.strip("/") + "/"
        super().__init__(
            f"{base.url.rstrip('/')}/{self._prefix.rstrip('/')}",
            base.read_only if read_only is None else read_only,
        )
        self.remote = base.remote
        self.range_merge_gap = base.range_merge_gap
        self.range_merge_max = base.range_merge_max

    @property
    def loopback(self) -> bool:
        return self._base.loopback

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key: str) -> bytes:
        return await self._base.get(self._k(key))

    async def get_buffer(self, key: str) -> bytes | memoryview:
        return await self._base.get_buffer(self._k(key))

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        return await self._base.get_range(self._k(key), start, end)

    async def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> Sequence[bytes | memoryview]:
        return await self._base.get_ranges(self._k(key), ranges)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return await self._base.get_many([self._k(k) for k in keys])

    async def exists(self, key: str) -> bool:
        return await self._base.exists(self._k(key))

    async def list(self, prefix: str = "") -> list[str]:
        n = len(self._prefix)
        return [k[n:] for k in await self._base.list(self._k(prefix))]

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.check_writable(key)
        await self._base.put(self._k(key), data)

    async def put_parts(self, key: str, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        self.check_writable(key)
        await self._base.put_parts(self._k(key), parts)

    async def put_many(self, items: Mapping[str, bytes | bytearray | memoryview]) -> None:
        self.check_writable(next(iter(items), ""))
        await self._base.put_many({self._k(k): v for k, v in items.items()})

    async def delete(self, key: str) -> None:
        self.check_writable(key)
        await self._base.delete(self._k(key))

    async def delete_prefix(self, prefix: str = "") -> None:
        self.check_writable(prefix)
        await self._base.delete_prefix(self._k(prefix))
