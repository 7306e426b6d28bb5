"""Optimized saved views (``save_view(optimize=True)``, ``get_view(id).optimize()``,
``load_view(id, optimize=True)``): the view's samples copied into its own dataset, so it
reads without its source; tests/interop/test_views_interop.py crosses them with deeplake."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _native
from shoal.errors import ShoalError


def _source(path: str, png: str) -> shoal.Dataset:
    ds = shoal.empty(path)
    ds.create_tensor("img", htype="image", sample_compression="png")
    ds.img.extend([np.full((4, 4, 3), i, np.uint8) for i in range(6)])
    ds.create_tensor("s", htype="sequence[generic]", dtype="int32")
    ds.s.extend([np.arange(i, dtype=np.int32).reshape(i, 1) for i in range(6)])
    ds.create_tensor("ln", htype="link[image]", sample_compression="png")
    ds.ln.extend([shoal.link(png)] * 6)
    ds.info.update(about="six")
    ds.commit("c")
    return ds


def _png(tmp_path: Path) -> str:
    p = tmp_path / "f.png"
    p.write_bytes(_native.png_encode(np.full((3, 5, 3), 9, np.uint8)))
    return str(p)


def _gone(path: Path) -> None:
    """The source's own samples removed: a view that reads them fails."""
    for t in ("img", "s", "ln"):
        shutil.rmtree(path / t / "chunks")


def test_optimized_views_hold_their_samples(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    png = _png(tmp_path)
    ds = _source(str(path), png)
    saved = ds[[4, 1, 2]].save_view(id="opt", message="m", optimize=True)
    assert saved == f"{path}/.queries/opt"
    ds[1:3].save_view(id="virt")
    entry = ds.get_view("virt").optimize()
    assert entry.info["path"] == "virt_OPTIMIZED" and entry.virtual is False
    assert not (path / ".queries" / "virt").exists()
    queries = json.loads((path / "queries.json").read_text())
    assert [(q["id"], q["virtual-datasource"], q.get("path")) for q in queries] == [
        ("opt", False, None),
        ("virt", False, "virt_OPTIMIZED"),
    ]
    assert ds.get_view("virt").optimize().info == entry.info  # optimized: left as it is
    _gone(path)
    again = shoal.load(str(path))
    opt = again.load_view("opt")
    assert sorted(opt.tensors) == ["img", "ln", "s"] and len(opt) == 3
    assert [int(a[0, 0, 0]) for a in opt.img.numpy(aslist=True)] == [4, 1, 2]
    assert [len(x) for x in opt.s.numpy(aslist=True)] == [4, 1, 2]
    assert opt.ln.htype == "image"  # the linked files stored in the view, as deeplake does
    np.testing.assert_array_equal(opt.ln[0].numpy(), np.full((3, 5, 3), 9, np.uint8))
    assert opt.info["about"] == "six" and opt.info["virtual-datasource"] is False
    assert opt["VDS_INDEX"].numpy().ravel().tolist() == [4, 1, 2]
    virt = again.load_view("virt")
    assert [int(a[0, 0, 0]) for a in virt.img.numpy(aslist=True)] == [1, 2]
    assert virt.info["path"] == "virt_OPTIMIZED"


def test_load_view_optimize_some_tensors_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    ds = _source(str(path), _png(tmp_path))
    ds[[5, 0]].save_view(id="v")
    loaded = ds.load_view("v", optimize=True, tensors=["img"], num_workers=2)
    assert list(loaded.tensors) == ["img"] and len(loaded) == 2
    assert ds.get_view("v").info["path"] == "v_OPTIMIZED"
    apart = ds[0:2].save_view(path=str(tmp_path / "apart"), optimize=True)
    assert shoal.load(apart).img.numpy().shape == (2, 4, 4, 3)
    ds[0:1].save_view(id="w")
    with pytest.raises(ShoalError, match="unlink=False"):
        ds.get_view("w").optimize(unlink=False)
    with pytest.raises(TypeError, match="colour"):
        ds.load_view("w", optimize=True, colour=1)
    ro = shoal.load(str(path), read_only=True)
    with pytest.raises(ShoalError, match="read_only=False"):
        ro.get_view("w").optimize()
    ds.img.append(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(shoal.errors.VersionError, match="commit"):
        ds[0:2].save_view(id="dirty", optimize=True)
    ds.commit("more")

    async def main() -> int:
        a = await shoal.load_async(str(path))
        await a[2:5].save_view_async(id="async", optimize=True)
        view = await a.load_view_async("async")
        return len(view)

    assert asyncio.run(main()) == 3


def test_optimized_view_stores_linked_sequences_and_empty_links(tmp_path: Path) -> None:
    png = _png(tmp_path)
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("sl", htype="sequence[link[image]]", sample_compression="png")
    ds.sl.extend([[shoal.link(png)] * n for n in (2, 0, 1)])
    ds.create_tensor("ln", htype="link[image]", sample_compression="png")
    ds.ln.extend([shoal.link(png), None, shoal.link(png)])
    ds.commit("c")
    ds[[2, 0, 1]].save_view(id="o", optimize=True)
    v = ds.load_view("o")
    assert v.sl.htype == "sequence[image]" and v.ln.htype == "image"
    assert [[x.shape for x in s] for s in v.sl.numpy(aslist=True)] == [
        [(3, 5, 3)],
        [(3, 5, 3)] * 2,
        [],
    ]
    assert [a.shape for a in v.ln.numpy(aslist=True)] == [(3, 5, 3), (3, 5, 3), (0, 0, 0)]
