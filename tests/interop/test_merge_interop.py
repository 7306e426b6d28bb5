"""Merges of histories with updates (made by deeplake 3.9.52): a conflict without a
resolution is an error naming the tensors and indices that changes nothing; with one, shoal
merges as deeplake does."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from tests.interop import vc_ops
from tests.interop.test_versions_interop import TENSORS, _dl_dump, _dl_run, _shoal_dump
from tests.test_versions import snapshot

import shoal
from shoal import errors

pytestmark = pytest.mark.interop

# both branches update sample 0 of x after c1 (a conflict); dev also updates sample 1 (no
# conflict) and appends
CONFLICT = [
    ["create", TENSORS],
    ["append", {"x": list(range(5)), "t": [f"s{i}" for i in range(5)], "img": list(range(5))}],
    ["commit", "c1"],
    ["checkout", "dev", True],
    ["update", "x", 0, 50],
    ["update", "x", 1, 51],
    ["append", {"x": [100], "t": ["d"], "img": [100]}],
    ["commit", "d1"],
    ["checkout", "main", False],
    ["update", "x", 0, 70],
    ["commit", "m1"],
    ["close"],
]


@pytest.fixture(scope="module")
def conflicted(run_dl: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("conflict") / "ds")
    _dl_run(run_dl, path, CONFLICT, {})
    return path


def test_conflict_without_resolution_changes_nothing(conflicted, tmp_path) -> None:
    path = tmp_path / "ds"
    shutil.copytree(conflicted, path)
    before = snapshot(path)
    ds = shoal.load(str(path))
    with pytest.raises(errors.MergeConflictError) as info:
        ds.merge("dev")
    assert info.value.conflicts == {"x": [0]}
    message = str(info.value)
    assert "tensor 'x' at indices [0]" in message and "conflict_resolution='ours'" in message
    ds.close()
    assert snapshot(path) == before
    with pytest.raises(errors.VersionError, match="conflict_resolution must be"):
        shoal.load(str(path)).merge("dev", conflict_resolution="mine")


@pytest.mark.parametrize("resolution", ["ours", "theirs"])
def test_merge_resolved_as_deeplake_does(conflicted, run_dl, tmp_path, resolution) -> None:
    ours, theirs = tmp_path / "shoal", tmp_path / "deeplake"
    shutil.copytree(conflicted, ours)
    shutil.copytree(conflicted, theirs)
    steps = [["load"], ["merge", "dev", resolution], ["close"]]
    vc_ops.run(shoal, str(ours), steps, {})
    _dl_run(run_dl, str(theirs), steps, {})
    mine = _shoal_dump(str(ours))["refs"]["main"]
    want = _dl_dump(run_dl, str(theirs), tmp_path)["refs"]["main"]
    assert mine["tensors"] == want["tensors"]
    first = 70 if resolution == "ours" else 50
    assert mine["tensors"]["x"][:2] == [[first, first * 10], [51, 510]]
    assert mine["tensors"]["t"][-1] == "d"
    assert [c["message"] for c in mine["commits"]] == [c["message"] for c in want["commits"]]
    # deeplake reads shoal's merge
    dl = _dl_dump(run_dl, str(ours), tmp_path)
    assert json.dumps(dl["refs"]["main"]["tensors"]) == json.dumps(mine["tensors"])
