"""Saved views cross between the libraries: a view shoal saves loads in deeplake 3.9.52 as
the samples of the commit it was saved from, and one deeplake saves loads in shoal; both list
both in ``get_views()``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.errors import ShoalError, VersionError

DEEPLAKE_SIDE = """
import json
ds = deeplake.load(argv[0])
seen = ds.load_view("from-shoal")
values = seen.x.numpy().ravel().tolist()
ds[[1, 8]].save_view(id="from-deeplake", message="dl")
print(json.dumps({"values": values, "ids": sorted(v.id for v in ds.get_views()),
                  "message": ds.get_view("from-shoal").message}))
"""


def test_views_saved_by_either_library_load_in_the_other(run_dl: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "ds")
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(list(range(10)))
    with pytest.raises(VersionError, match="commit"):
        ds[2:6].save_view(id="early")
    ds.commit("first")
    saved = ds[2:6].save_view(id="from-shoal", message="sh")
    assert saved.endswith(".queries/from-shoal")
    with pytest.raises(ShoalError, match="overwrite=True"):
        ds[0:1].save_view(id="from-shoal")
    ds.x[2] = 100  # the branch moves on: the view keeps the commit it was saved from
    ds.commit("second")
    ds.close()
    script = tmp_path / "side.py"
    script.write_text(DEEPLAKE_SIDE)
    theirs = json.loads(run_dl("exec", script, path).stdout.strip().splitlines()[-1])
    assert theirs == {
        "values": [2, 3, 4, 5],
        "ids": ["from-deeplake", "from-shoal"],
        "message": "sh",
    }
    again = shoal.load(path)
    assert sorted(v.id for v in again.get_views()) == ["from-deeplake", "from-shoal"]
    assert again.load_view("from-deeplake").x.numpy().ravel().tolist() == [1, 8]
    assert again.load_view("from-shoal").x.numpy().ravel().tolist() == [2, 3, 4, 5]
    assert again.get_view("from-deeplake").message == "dl"
    again.delete_view("from-shoal")
    assert [v.id for v in shoal.load(path).get_views()] == ["from-deeplake"]
    with pytest.raises(KeyError):
        again.load_view("from-shoal")
    assert np.array_equal(again.x.numpy().ravel()[:3], [0, 1, 100])


OPTIMIZED_SIDE = """
import json
ds = deeplake.load(argv[0])
seen = {}
for vid in ("sh-opt", "sh-virt"):
    v = ds.load_view(vid)
    seen[vid] = {"len": len(v), "img": [int(a[0, 0, 0]) for a in v.img.numpy(aslist=True)],
                 "s": [len(x) for x in v.s.numpy(aslist=True)], "ln": v.ln.htype,
                 "ln0": int(v.ln[0].numpy().sum()), "path": v.path.split("/")[-1]}
ds[[5, 0, 3]].save_view(id="dl-opt", optimize=True, progressbar=False)
ds[2:4].save_view(id="dl-virt")
ds.get_view("dl-virt").optimize(progressbar=False)
print(json.dumps(seen))
"""


def test_optimized_views_saved_by_either_library_load_in_the_other(
    run_dl: Any, tmp_path: Path
) -> None:
    from shoal import _native

    png = tmp_path / "f.png"
    png.write_bytes(_native.png_encode(np.full((3, 5, 3), 9, np.uint8)))
    path = tmp_path / "ds"
    ds = shoal.empty(str(path))
    ds.create_tensor("img", htype="image", sample_compression="png")
    ds.img.extend([np.full((4, 4, 3), i, np.uint8) for i in range(6)])
    ds.create_tensor("s", htype="sequence[generic]", dtype="int32")
    ds.s.extend([np.arange(i + 1, dtype=np.int32).reshape(i + 1, 1) for i in range(6)])
    ds.create_tensor("ln", htype="link[image]", sample_compression="png")
    ds.ln.extend([shoal.link(str(png))] * 6)
    ds.commit("c")
    ds[[4, 1, 2]].save_view(id="sh-opt", optimize=True)
    ds[1:3].save_view(id="sh-virt")
    ds.get_view("sh-virt").optimize()
    ds.close()
    script = tmp_path / "side.py"
    script.write_text(OPTIMIZED_SIDE)
    theirs = json.loads(run_dl("exec", script, path).stdout.strip().splitlines()[-1])
    px = 9 * 3 * 5 * 3
    assert theirs == {
        "sh-opt": {
            "len": 3,
            "img": [4, 1, 2],
            "s": [5, 2, 3],
            "ln": "image",
            "ln0": px,
            "path": "sh-opt",
        },
        "sh-virt": {
            "len": 2,
            "img": [1, 2],
            "s": [2, 3],
            "ln": "image",
            "ln0": px,
            "path": "sh-virt_OPTIMIZED",
        },
    }
    for name in ("img", "s", "ln"):  # from here on the views read their own samples only
        for chunk in (path / name / "chunks").iterdir():
            chunk.unlink()
    again = shoal.load(str(path))
    views = {v.id: v for v in again.get_views()}
    assert views["dl-virt"].info["path"] == "dl-virt_OPTIMIZED"
    assert not views["dl-opt"].virtual and not views["dl-virt"].virtual
    opt = again.load_view("dl-opt")
    assert [int(a[0, 0, 0]) for a in opt.img.numpy(aslist=True)] == [5, 0, 3]
    # deeplake 3.9.52 copies only the first item of each sequence (shoal copies them all)
    assert [len(x) for x in opt.s.numpy(aslist=True)] == [1, 1, 1]
    assert opt.ln.htype == "image" and int(opt.ln[0].numpy().sum()) == px
    virt = again.load_view("dl-virt")
    assert [int(a[0, 0, 0]) for a in virt.img.numpy(aslist=True)] == [2, 3]
    assert again.load_view("sh-opt")["VDS_INDEX"].numpy().ravel().tolist() == [4, 1, 2]
