from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shoal.errors import PathError
from shoal.storage import LocalStorage, MemoryStorage, Storage
from shoal.storage._prefixed import PrefixedStorage

from .conformance import StorageConformance


class TestLocal(StorageConformance):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[Storage]:
        s = LocalStorage(tmp_path / "root")
        yield s
        await s.close()

    @pytest.fixture
    async def read_only_store(self, tmp_path: Path) -> AsyncIterator[Storage]:
        yield LocalStorage(tmp_path / "ro", read_only=True)

    async def test_rejects_escaping_keys(self, store: Storage) -> None:
        with pytest.raises(PathError):
            await store.get("../etc/passwd")

    async def test_no_temp_files_left(self, store: LocalStorage) -> None:
        await store.put("a/b", b"1" * 1000)
        files = [p.name for p in store.root.rglob("*") if p.is_file()]
        assert files == ["b"]


class TestMemory(StorageConformance):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Storage]:
        yield MemoryStorage(f"test-{uuid.uuid4().hex}")

    @pytest.fixture
    async def read_only_store(self) -> AsyncIterator[Storage]:
        yield MemoryStorage(f"test-{uuid.uuid4().hex}", read_only=True)

    async def test_shared_by_name(self) -> None:
        name = f"shared-{uuid.uuid4().hex}"
        await MemoryStorage(name).put("k", b"v")
        assert await MemoryStorage(name).get("k") == b"v"


class TestPrefixed(StorageConformance):
    """A folder of a local store (where saved views live): the same contract, and nothing
    of it reaches keys outside the folder."""

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[Storage]:
        base = LocalStorage(tmp_path / "root")
        await base.put("outside", b"x")
        yield PrefixedStorage(base, ".queries/v1")
        assert await base.get("outside") == b"x"
        await base.close()

    @pytest.fixture
    async def read_only_store(self, tmp_path: Path) -> AsyncIterator[Storage]:
        yield PrefixedStorage(LocalStorage(tmp_path / "ro"), "sub", read_only=True)

    async def test_keys_live_under_the_folder(self, tmp_path: Path) -> None:
        base = MemoryStorage(f"prefixed-{uuid.uuid4().hex}")
        sub = PrefixedStorage(base, "a/b/")
        await sub.put("k", b"v")
        assert await base.list("") == ["a/b/k"] and await sub.list("") == ["k"]
        await sub.delete_prefix("")
        assert await base.list("") == []
