"""One conformance suite every storage provider passes.

Subclass :class:`StorageConformance` and provide a ``store`` fixture yielding a fresh,
empty, writable provider.
"""

from __future__ import annotations

import asyncio

import pytest

from shoal.errors import NotFoundError, ReadOnlyError
from shoal.storage import Storage


class StorageConformance:
    async def test_put_get_roundtrip(self, store: Storage) -> None:
        await store.put("a/b/c.bin", b"hello world")
        assert await store.get("a/b/c.bin") == b"hello world"

    async def test_overwrite_replaces_whole_object(self, store: Storage) -> None:
        await store.put("k", b"x" * 100)
        await store.put("k", b"short")
        assert await store.get("k") == b"short"

    async def test_missing_is_not_found_and_file_not_found(self, store: Storage) -> None:
        with pytest.raises(NotFoundError) as info:
            await store.get("nope/missing")
        assert isinstance(info.value, FileNotFoundError)
        assert "nope/missing" in str(info.value)
        with pytest.raises(FileNotFoundError):
            await store.get_range("nope/missing", 0, 3)

    async def test_ranges(self, store: Storage) -> None:
        data = bytes(range(256)) * 4
        await store.put("r", data)
        assert await store.get_range("r", 10, 20) == data[10:20]
        assert await store.get_range("r", 1000, None) == data[1000:]
        assert await store.get_range("r", 1020, 2000) == data[1020:]
        got = await store.get_ranges("r", [(0, 1), (5, 9), (1023, 1024)])
        assert got == [data[0:1], data[5:9], data[1023:1024]]

    async def test_get_many_with_missing(self, store: Storage) -> None:
        await store.put("x1", b"1")
        await store.put("x3", b"3")
        assert await store.get_many(["x1", "x2", "x3"]) == [b"1", None, b"3"]

    async def test_exists_list_delete(self, store: Storage) -> None:
        await store.put_many({"t/a": b"1", "t/b/c": b"2", "u": b"3"})
        assert await store.exists("t/a")
        assert not await store.exists("t/zz")
        assert await store.list("t/") == ["t/a", "t/b/c"]
        assert await store.list() == ["t/a", "t/b/c", "u"]
        await store.delete("t/a")
        await store.delete("t/a")  # deleting a missing key is fine
        assert not await store.exists("t/a")
        await store.delete_prefix("t/")
        assert await store.list() == ["u"]

    async def test_concurrent_puts_and_gets(self, store: Storage) -> None:
        items = {f"c/{i}": bytes([i % 256]) * (i + 1) for i in range(200)}
        await asyncio.gather(*(store.put(k, v) for k, v in items.items()))
        got = await asyncio.gather(*(store.get(k) for k in items))
        assert got == list(items.values())

    async def test_empty_object(self, store: Storage) -> None:
        await store.put("empty", b"")
        assert await store.get("empty") == b""
        assert await store.exists("empty")

    async def test_read_only_rejects_writes(self, read_only_store: Storage) -> None:
        with pytest.raises(ReadOnlyError) as info:
            await read_only_store.put("k", b"v")
        assert isinstance(info.value, PermissionError)
        with pytest.raises(ReadOnlyError):
            await read_only_store.delete("k")
