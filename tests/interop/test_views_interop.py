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
