"""A read-only store that reads a ``hub://`` dataset through the platform.

Where the platform's storage has no way to scope credentials to one dataset (an S3 store
without STS), it never hands its keys to readers: their grant says ``"read_via": "platform"``
and every read is a request to the platform's object endpoints, which fetch the object with
the server's keys after checking the caller may read the dataset.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..auth.platform_api import PlatformClient
from ..errors import NotFoundError
from ._base import Storage

__all__ = ["PlatformReadStorage"]


class PlatformReadStorage(Storage):
    """``org/name`` read through the platform ``client`` talks to; writes are refused."""

    remote = True

    def __init__(self, client: PlatformClient, org: str, name: str) -> None:
        super().__init__(f"hub://{org}/{name} (read through {client.url})", read_only=True)
        self.client = client
        self.org, self.name = org, name

    async def get(self, key: str) -> bytes:
        data = await self.client.read_object(self.org, self.name, key)
        if data is None:
            raise NotFoundError(f"{self.url} has no object {key!r}")
        return data

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        data = await self.client.read_object(self.org, self.name, key, start, end)
        if data is None:
            raise NotFoundError(f"{self.url} has no object {key!r}")
        return data

    async def exists(self, key: str) -> bool:
        return await self.client.object_exists(self.org, self.name, key)

    async def list(self, prefix: str = "") -> list[str]:
        return await self.client.list_keys(self.org, self.name, prefix)

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.check_writable(key)

    async def put_many(self, items: Mapping[str, bytes | bytearray | memoryview]) -> None:
        self.check_writable(next(iter(items), ""))

    async def delete(self, key: str) -> None:
        self.check_writable(key)
