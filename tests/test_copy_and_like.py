"""deeplake's everyday dataset utilities: ``shoal.deepcopy`` (whole history, any storage to
any other), ``create_tensor_like``, ``create_tensor``'s companion and ``exist_ok`` options,
``tensor.shapes()`` and ``ds.is_view``. Side-by-side results against deeplake are in
tests/interop/idioms.py; here what only shoal can be asked."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.errors import (
    DatasetExistsError,
    DatasetNotFoundError,
    InvalidHtypeError,
    ShoalError,
    TensorExistsError,
)
from shoal.storage import MemoryStorage


def _history(path: str) -> shoal.Dataset:
    ds = shoal.empty(path, overwrite=True)
    ds.create_tensor("img", htype="image", sample_compression="png")
    ds.create_tensor("g/lbl", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("t", htype="text")
    ds.extend(
        {
            "img": [np.full((3, 2, 3), i, np.uint8) for i in range(4)],
            "g/lbl": [0, 1, 1, 0],
            "t": list("abcd"),
        }
    )
    ds.commit("one")
    ds.checkout("dev", create=True)
    ds.t[0] = "zz"
    ds.commit("two")
    ds.checkout("main")
    return ds


def test_deepcopy_keeps_every_version_and_not_the_lock(tmp_path: Path) -> None:
    src = _history(str(tmp_path / "src"))
    src.t.append("e")  # takes the write lock
    copy = shoal.deepcopy(str(tmp_path / "src"), str(tmp_path / "copy"))
    assert sorted(copy.branches) == ["dev", "main"]
    assert copy.t.text() == list("abcde")
    copy.checkout("dev")
    assert copy.t.text() == ["zz", "b", "c", "d"]
    copy.checkout("main")
    copy.t.append("f")  # no lock of the source's writer came along
    assert list((tmp_path / "src").rglob("dataset_lock.lock"))  # the source's writer's
    assert len(list((tmp_path / "copy").rglob("dataset_lock.lock"))) == 1  # its own writer's


def test_deepcopy_of_some_tensors_lists_only_them_at_every_version(tmp_path: Path) -> None:
    _history(str(tmp_path / "src"))
    only = shoal.deepcopy(str(tmp_path / "src"), str(tmp_path / "only"), tensors=["g"])
    assert sorted(only.tensors) == ["g/lbl"]
    assert only["g/lbl"].numpy().ravel().tolist() == [0, 1, 1, 0]
    only.checkout("dev")
    assert sorted(only.tensors) == ["g/lbl"]
    metas = list((tmp_path / "only").rglob("dataset_meta.json"))
    assert len(metas) >= 2
    for meta in metas:
        names = json.loads(meta.read_text())["tensors"]
        assert set(names) <= {"g/lbl", "g/_lbl_id", "g/_lbl_shape"}
    assert not (tmp_path / "only" / "img").exists()
    with pytest.raises(DatasetNotFoundError, match="'nope'"):
        shoal.deepcopy(str(tmp_path / "src"), str(tmp_path / "x"), tensors=["nope"])


def test_deepcopy_refuses_what_it_cannot_copy(tmp_path: Path) -> None:
    ds = _history(str(tmp_path / "src"))
    shoal.deepcopy(ds, str(tmp_path / "dst"))
    with pytest.raises(DatasetExistsError, match="overwrite=True"):
        shoal.deepcopy(ds, str(tmp_path / "dst"))
    assert len(shoal.deepcopy(ds, str(tmp_path / "dst"), overwrite=True)) == 4
    with pytest.raises(ShoalError, match="not views"):
        shoal.deepcopy(ds[1:3], str(tmp_path / "view"))
    with pytest.raises(DatasetNotFoundError):
        shoal.deepcopy(str(tmp_path / "nothing"), str(tmp_path / "y"))
    with pytest.raises(TypeError, match="unexpected"):
        shoal.deepcopy(ds, str(tmp_path / "z"), colour="red")
    assert len(shoal.deepcopy(ds, str(tmp_path / "w"), num_workers=4, progressbar=True)) == 4


class _FailingPuts(MemoryStorage):
    """Storage whose ``fail_after``-th put fails, as a copy cut short."""

    def __init__(self, url: str, fail_after: int) -> None:
        super().__init__(url)
        self.puts = 0
        self.fail_after = fail_after

    async def put(self, key: str, data: Any) -> None:
        self.puts += 1
        if self.puts > self.fail_after:
            raise OSError("disk full")
        await super().put(key, data)


def test_a_copy_cut_short_is_not_a_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shoal import _copy, routing
    from shoal.engine.dataset import DatasetEngine

    _history(str(tmp_path / "src"))
    target = _FailingPuts("copy-cut", fail_after=5)
    real_open = routing.open_storage

    async def fake_open(parsed: routing.ParsedPath, **kw: Any) -> Any:
        return target if parsed.location == "copy-cut" else await real_open(parsed, **kw)

    monkeypatch.setattr(_copy.routing, "open_storage", fake_open)
    with pytest.raises(OSError):
        shoal.deepcopy(str(tmp_path / "src"), "mem://copy-cut")
    assert target.puts > 1
    assert not asyncio.run(DatasetEngine.exists(target))


def test_create_tensor_like_copies_meta_info_and_companions(tmp_path: Path) -> None:
    src = shoal.empty("mem://like-src", overwrite=True)
    src.create_tensor("lbl", htype="class_label", class_names=["x", "y"])
    src.create_tensor("bare", dtype="int16", create_shape_tensor=False, create_id_tensor=False)
    src.create_tensor("links", htype="link[image]", sample_compression="jpeg")
    src.lbl.info.update(note="n")
    ds = shoal.empty(str(tmp_path / "dst"))
    ds.create_tensor_like("lbl", src.lbl)
    ds.create_tensor_like("bare", src["bare"])
    ds.create_tensor_like("plain", src.links, unlink=True)
    ds.lbl.extend(["y", "x"])
    ds.bare.append(np.arange(3, dtype=np.int16))
    again = shoal.load(str(tmp_path / "dst"))
    assert again.lbl.numpy().ravel().tolist() == [1, 0]
    assert again.lbl.info.class_names == ["x", "y"] and again.lbl.info.note == "n"
    assert again.bare.dtype == np.int16
    assert again.plain.htype == "image" and again.plain.sample_compression == "jpeg"
    hidden = json.loads((tmp_path / "dst" / "dataset_meta.json").read_text())["tensors"]
    assert "_bare_id" not in hidden and "_bare_shape" not in hidden
    assert {"_lbl_id", "_lbl_shape", "_plain_id", "_plain_shape", "_plain_info"} <= set(hidden)
    with pytest.raises(TypeError, match="tensor as source"):
        ds.create_tensor_like("bad", "lbl")


def test_create_tensor_options() -> None:
    ds = shoal.empty("mem://options", overwrite=True)
    ds.create_tensor(
        "img", htype="image", sample_compression="png", create_sample_info_tensor=False
    )
    meta = ds._engine.meta
    assert "_img_info" not in meta["tensors"] and "_img_shape" in meta["tensors"]
    assert ds.create_tensor("img", htype="image", exist_ok=True).key == "img"
    assert ds.create_tensor("img", htype="image", sample_compression="png", exist_ok=True).key
    with pytest.raises(TensorExistsError, match="sample_compression 'jpeg'"):
        ds.create_tensor("img", htype="image", sample_compression="jpg", exist_ok=True)
    with pytest.raises(TensorExistsError, match="htype 'text'"):
        ds.create_tensor("img", htype="text", exist_ok=True)
    with pytest.raises(TensorExistsError):
        ds.create_tensor("img", htype="image")
    with pytest.raises(InvalidHtypeError, match="downsampling"):
        ds.create_tensor("d", htype="image", sample_compression="png", downsampling=(2, 3))
    with pytest.raises(InvalidHtypeError, match="create_id_tensor must be True or False"):
        ds.create_tensor("e", create_id_tensor="no")
    assert "d" not in ds.tensors and "e" not in ds.tensors


def test_shapes_of_sequences_links_and_async(tmp_path: Path) -> None:
    ds = shoal.empty("mem://shapes", overwrite=True)
    ds.create_tensor("s", htype="sequence[generic]", dtype="int32")
    ds.s.extend([[np.ones(2, np.int32), np.ones(3, np.int32)], [np.ones((4,), np.int32)]])
    got = ds.s.shapes()
    assert [g.tolist() for g in got] == [[[2], [3]], [[4]]]
    assert ds.s[0].shapes().tolist() == [[[2], [3]]]
    assert ds.s[0][1:].shapes().tolist() == [[3]]
    ds.create_tensor("empty", dtype="float32")
    assert ds.empty.shapes().shape == (0, 0)

    async def main() -> Any:
        a = await shoal.load_async("mem://shapes")
        return await a.s[1].shapes_async(), a.is_view, a[0:1].is_view

    one, whole, view = asyncio.run(main())
    assert one.tolist() == [[[4]]] and whole is False and view is True


def test_copy_keeps_stored_bytes_and_the_view_order(tmp_path: Path) -> None:
    src = shoal.empty(str(tmp_path / "src"))
    src.create_tensor("img", htype="image", sample_compression="jpeg")
    src.create_tensor("big", dtype="uint8", tiling_threshold=1000)
    src.create_tensor("g/t", htype="text")
    src.extend(
        {
            "img": [np.full((16, 16, 3), i * 10, np.uint8) for i in range(20)],
            "big": [np.full((40, 40), i, np.uint8) for i in range(20)],
            "g/t": [str(i) for i in range(20)],
        }
    )
    src.commit("c")
    whole = shoal.copy(str(tmp_path / "src"), str(tmp_path / "whole"))
    assert len(whole.commits) == 0
    assert (whole.img.numpy() == src.img.numpy()).all()  # jpeg bytes kept: no second loss
    assert (whole.big.numpy() == src.big.numpy()).all()  # tiled samples tiled again
    part = src[[7, 2, 19]].copy(str(tmp_path / "part"))
    assert part["g/t"].text() == ["7", "2", "19"]
    assert [int(a[0, 0]) for a in part.big.numpy(aslist=True)] == [7, 2, 19]
    some = shoal.copy(src, str(tmp_path / "some"), tensors=["g"])
    assert sorted(some.tensors) == ["g/t"] and len(some) == 20
    with pytest.raises(DatasetExistsError):
        shoal.copy(src, str(tmp_path / "some"))
    assert len(shoal.copy(src[0:3], str(tmp_path / "some"), overwrite=True)) == 3

    async def main() -> int:
        a = await shoal.load_async(str(tmp_path / "src"))
        c = await a[5:9].copy_async(str(tmp_path / "async"))
        return len(c)

    assert asyncio.run(main()) == 4


def test_copy_refuses_unknown_options(tmp_path: Path) -> None:
    src = shoal.empty("mem://copy-refuse", overwrite=True)
    src.create_tensor("s", htype="sequence[generic]", dtype="int32")
    src.s.append([np.ones(2, np.int32)])
    with pytest.raises(TypeError, match="unexpected"):
        shoal.copy(src, str(tmp_path / "y"), colour=1)
    assert not shoal.exists(str(tmp_path / "y"))
