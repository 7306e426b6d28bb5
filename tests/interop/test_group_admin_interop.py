"""``delete_group`` and ``rename_group`` in shoal, where deeplake 3.9.52 goes wrong (it
matches groups by name prefix, so ``train`` also catches ``trainer``; a delete after a rename
in one commit fails), and deeplake reading what shoal wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.interop import snippets

import shoal
from shoal import errors

pytestmark = pytest.mark.interop

READ = r"""
ds = deeplake.load(argv[0], read_only=True)
print(json.dumps({"tensors": sorted(ds.tensors), "groups": sorted(ds.groups),
                  "values": summary(ds), "commits": [c["message"] for c in ds.commits]}))
"""


def _make(path: Path) -> shoal.Dataset:
    ds = shoal.empty(str(path))
    ds.create_group("train")
    ds.train.create_tensor("images", dtype="uint8")
    ds.train.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds["train"].create_group("extra")
    ds["train/extra"].create_tensor("z", dtype="int64")
    ds.create_group("trainer")
    ds.trainer.create_tensor("w", dtype="int64")
    ds.train.images.extend(np.ones((3, 2, 2), np.uint8))
    ds.train.labels.extend([0, 1, 1])
    ds["train/extra/z"].extend([1, 2, 3])
    ds.trainer.w.extend([7])
    ds.commit("first")
    return ds


def test_groups_are_matched_by_name_not_by_prefix(tmp_path: Path, run_dl: Any) -> None:
    path = tmp_path / "ds"
    ds = _make(path)
    ds.rename_group("train", "training")
    ds.delete_group("training/extra")  # after a rename in the same commit
    assert sorted(ds.tensors) == ["trainer/w", "training/images", "training/labels"]
    assert sorted(ds.groups) == ["trainer", "training"]
    assert ds["training/labels"].numpy().ravel().tolist() == [0, 1, 1]
    ds.commit("renamed")
    ds.close()
    script = snippets.write(tmp_path, "read", READ)
    seen = snippets.with_deeplake(run_dl, script, path)
    assert seen["tensors"] == ["trainer/w", "training/images", "training/labels"]
    assert seen["groups"] == ["trainer", "training"]
    assert seen["values"]["trainer/w"] == [[7]]
    assert seen["values"]["training/labels"] == [[0], [1], [1]]
    old = shoal.load(f"{path}@{shoal.load(str(path)).commits[-1]['commit']}")
    assert sorted(old.tensors) == ["train/extra/z", "train/images", "train/labels", "trainer/w"]


def test_bad_group_operations_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    ds = _make(path)
    before = sorted(ds.tensors), sorted(ds.groups)
    with pytest.raises(errors.TensorNotFoundError, match="no group 'nope'"):
        ds.delete_group("nope")
    with pytest.raises(errors.TensorNotFoundError, match="no group 'nope'"):
        ds.rename_group("nope", "other")
    with pytest.raises(errors.TensorExistsError, match="'trainer'"):
        ds.rename_group("train", "trainer")
    with pytest.raises(errors.InvalidHtypeError, match="same parent"):
        ds.rename_group("train/extra", "elsewhere")
    view = ds["train/extra/z"][0:2]
    with pytest.raises(errors.TensorInUseError, match="open view"):
        ds.delete_group("train")
    del view
    assert (sorted(ds.tensors), sorted(ds.groups)) == before
    ds.delete_group("train")
    assert sorted(ds.tensors) == ["trainer/w"] and sorted(ds.groups) == ["trainer"]
