"""Whole-dataset housekeeping: ``ds.read_only = True``, ``allow_delete``, ``ds.delete()``,
``size_approx()``, ``random_split`` and ``tensor.size``. Side-by-side results against
deeplake are in tests/interop/idioms.py; here the refusals and the async spellings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _dataset_admin
from shoal.errors import DatasetChangedError, ReadOnlyError, SampleError, ShoalError


def _ds(path: Path) -> shoal.Dataset:
    ds = shoal.empty(str(path))
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(list(range(10)))
    return ds


def test_read_only_flag_refuses_writes_and_frees_the_lock(tmp_path: Path) -> None:
    ds = _ds(tmp_path / "a")
    ds.read_only = True
    assert ds.read_only
    with pytest.raises(ReadOnlyError, match=r"ds.read_only = False"):
        ds.x.append(1)
    other = shoal.load(str(tmp_path / "a"))
    other.x.append(10)  # the lock was given up: another writer may write
    other.close()
    ds.read_only = False
    with pytest.raises(DatasetChangedError):  # the other writer wrote in between
        ds.x.append(11)
    ds = shoal.load(str(tmp_path / "a"))
    ds.read_only = True
    ds.read_only = False
    ds.x.append(11)  # nobody wrote in between
    assert shoal.load(str(tmp_path / "a")).x.numpy().ravel().tolist()[-2:] == [10, 11]
    opened_ro = shoal.load(str(tmp_path / "a"), read_only=True)
    with pytest.raises(ReadOnlyError, match="read_only=False"):
        opened_ro.read_only = False
    with pytest.raises(TypeError):
        ds.read_only = "yes"  # type: ignore[assignment]


def test_delete_is_refused_when_marked_large_or_a_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = _ds(tmp_path / "a")
    ds.allow_delete = False
    assert shoal.load(str(tmp_path / "a")).allow_delete is False
    with pytest.raises(ShoalError, match="allow_delete"):
        ds.delete()
    ds.allow_delete = True
    with pytest.raises(ShoalError, match="whole datasets"):
        ds[1:3].delete()
    monkeypatch.setattr(_dataset_admin, "DELETE_SAFETY_SIZE", 10)
    assert ds.size_approx() > 10
    with pytest.raises(ShoalError, match="large_ok=True"):
        ds.delete()
    assert shoal.exists(str(tmp_path / "a"))
    ds.delete(large_ok=True)
    assert not shoal.exists(str(tmp_path / "a"))
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_random_split_rules(tmp_path: Path) -> None:
    ds = _ds(tmp_path / "a")
    assert _dataset_admin.split_sizes([0.5, 0.3, 0.2], 7) == [4, 2, 1]
    assert _dataset_admin.split_sizes([3, 7], 10) == [3, 7]
    a, b = ds.random_split([0.7, 0.3])
    got = a.x.numpy().ravel().tolist() + b.x.numpy().ravel().tolist()
    assert sorted(got) == list(range(10)) and (len(a), len(b)) == (7, 3)
    for bad in ([3, 3], [0.5, 0.6], [1.5, -0.5], ["a"], []):
        with pytest.raises(ValueError):
            ds.random_split(bad)
    ds.create_tensor("y", dtype="int64")
    ds.y.append(1)
    with pytest.raises(SampleError, match="equal length"):
        ds.random_split([0.5, 0.5])


def test_size_and_async_spellings(tmp_path: Path) -> None:
    ds = _ds(tmp_path / "a")
    other = shoal.empty("mem://admin-size", overwrite=True)
    other.create_tensor("v", dtype="float32")
    other.v.extend([np.zeros(2, np.float32), np.zeros(3, np.float32)])
    assert ds.x.size == 10 and ds.x[2:4].size == 2
    assert other.v.size is None and other.v[1].size == 3

    async def main() -> tuple[bool, int, bool]:
        a = await shoal.load_async(str(tmp_path / "a"))
        with pytest.raises(AttributeError, match="set_read_only_async"):
            a.read_only = True
        await a.set_read_only_async(True)
        ro = a.read_only
        parts = a.random_split([5, 5])
        size = await a.size_approx_async()
        await a.set_read_only_async(False)
        await a.delete_async()
        return ro, size, all(len(p) == 5 for p in parts)

    ro, size, halves = asyncio.run(main())
    assert ro and size > 0 and halves
    assert not shoal.exists(str(tmp_path / "a"))


def test_clear_keeps_meta_and_info_and_older_commits(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "c"))
    ds.create_tensor("l", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("img", htype="image", sample_compression="png", max_chunk_size=2000)
    ds.l.extend([0, 1, 1] * 100)
    ds.img.extend([np.full((8, 8, 3), i % 200, np.uint8) for i in range(300)])
    first = ds.commit("filled")
    ds.l.clear()
    ds.img.clear()
    assert len(ds.l) == 0 and len(ds.img) == 0
    ds.l.append("b")
    assert ds.l.info.class_names == ["a", "b"] and ds.l.numpy().ravel().tolist() == [1]
    with pytest.raises(ShoalError, match="whole tensor"):
        ds.l[0:1].clear()
    again = shoal.load(str(tmp_path / "c"))
    assert len(again.img) == 0 and again.l.numpy().ravel().tolist() == [1]
    old = shoal.load(f"{tmp_path / 'c'}@{first}")
    assert len(old.img) == 300 and int(old.img[299].numpy()[0, 0, 0]) == 299 % 200
    diff = ds.diff(as_dict=True)
    assert diff is not None
