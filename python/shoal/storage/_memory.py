"""``mem://name`` provider: a process-wide named dict of objects.

Datasets under the same ``mem://`` name are shared by every open handle in the process, and
vanish with it. Values are stored as immutable ``bytes``.
"""

from __future__ import annotations

import threading

from ..errors import NotFoundError
from ._base import Storage

_stores: dict[str, dict[str, bytes]] = {}
_stores_lock = threading.Lock()


def _store(name: str) -> dict[str, bytes]:
    with _stores_lock:
        return _stores.setdefault(name, {})


class MemoryStorage(Storage):
    """Objects in a dict shared by every handle on the same ``mem://`` name."""

    def __init__(self, name: str, read_only: bool = False) -> None:
        super().__init__(f"mem://{name}", read_only)
        self._objects = _store(name)

    async def get(self, key: str) -> bytes:
        try:
            return self._objects[key]
        except KeyError:
            raise NotFoundError(f"{key!r} not found in {self.url}") from None

    async def get_range(self, key: str, start: int, end: int | None) -> bytes:
        data = await self.get(key)
        return data[start:end]

    async def exists(self, key: str) -> bool:
        return key in self._objects

    async def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in list(self._objects) if k.startswith(prefix))

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.check_writable(key)
        self._objects[key] = bytes(data)

    async def delete(self, key: str) -> None:
        self.check_writable(key)
        self._objects.pop(key, None)

    async def delete_prefix(self, prefix: str = "") -> None:
        self.check_writable(prefix)
        for key in [k for k in list(self._objects) if k.startswith(prefix)]:
            del self._objects[key]
