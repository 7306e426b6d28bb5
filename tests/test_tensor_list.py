"""Groups, renames and deletes of tensors: how they read back, and bad input that changes
nothing stored."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import errors


def files(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def _ds(tmp_path: Path) -> shoal.Dataset:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_group("train").create_tensor("images", htype="image", dtype="uint8")
    ds.create_tensor("train/labels", htype="class_label")
    ds.create_group("a/b")
    ds.a.b.create_tensor("c", htype="text")
    ds.create_tensor("x", dtype="int64")
    ds.extend(
        {
            "train/images": [np.full((2, 2, 3), i, np.uint8) for i in range(3)],
            "train/labels": [0, 1, 0],
            "a/b/c": ["p", "q", "r"],
            "x": [1, 2, 3],
        }
    )
    return ds


def test_groups_read_as_deeplake_users_expect(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    assert sorted(ds.meta.groups) == ["a", "a/b", "train"]
    assert list(ds.train.tensors) == ["images", "labels"]
    assert list(ds["a"].groups) == ["b"] and list(ds.a.b.tensors) == ["c"]
    assert ds["train/labels"].numpy().ravel().tolist() == [0, 1, 0]
    assert ds.train.labels[1].numpy().tolist() == [1]
    assert ds.a.b.c.text() == ["p", "q", "r"] and len(ds.a.b) == 3
    again = shoal.load(ds.path)
    assert again.train.images[2].numpy()[0, 0, 0] == 2
    assert again.create_group("train", exist_ok=True).labels.numpy().shape == (3, 1)


def test_rename_and_delete(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    t = ds.rename_tensor("train/labels", "train/lab")
    assert t.numpy().ravel().tolist() == [0, 1, 0]
    assert list(ds.train.tensors) == ["images", "lab"]
    assert "train/_lab_id" in ds._engine.meta["tensor_names"]
    ds.train.rename_tensor("lab", "lab2")
    ds.delete_tensor("x")
    ds.a.b.c.append("s")  # the dataset goes on
    again = shoal.load(ds.path)
    assert list(again.tensors) == ["train/images", "train/lab2", "a/b/c"]
    assert not (tmp_path / "ds" / "x").exists() and not (tmp_path / "ds" / "_x_id").exists()
    assert again.train.lab2.meta.name == "train/lab2"


def test_bad_tensor_list_changes_change_nothing(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    before = files(tmp_path / "ds")
    with pytest.raises(errors.TensorExistsError, match="delete it first"):
        ds.rename_tensor("train/labels", "train/images")
    with pytest.raises(errors.InvalidHtypeError, match="same group"):
        ds.rename_tensor("train/labels", "labels")
    with pytest.raises(errors.TensorNotFoundError):
        ds.rename_tensor("nope", "other")
    with pytest.raises(errors.TensorNotFoundError):
        ds.delete_tensor("nope")
    with pytest.raises(errors.TensorExistsError, match="is a tensor"):
        ds.create_group("x")
    with pytest.raises(errors.TensorExistsError, match="exist_ok"):
        ds.create_group("train")
    view = ds.x[0:2]
    with pytest.raises(errors.TensorInUseError, match="open view"):
        ds.delete_tensor("x")
    del view
    assert files(tmp_path / "ds") == before
    ds.delete_tensor("x")
    assert "x" not in ds.tensors
