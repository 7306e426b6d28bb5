"""Merging in shoal alone (appends, new tensors, automatic commits of the target, nothing to
merge). Merges with updates and conflicts, against deeplake: tests/interop/test_merge_interop.py."""

from __future__ import annotations

import numpy as np
import pytest

import shoal
from shoal import errors


def make(path: str) -> shoal.Dataset:
    ds = shoal.empty(path)
    ds.create_tensor("x", dtype="int64", max_chunk_size=64)
    ds.x.extend(np.arange(10))
    ds.commit("c1")
    return ds


def test_merge_appends_and_new_tensors(tmp_path) -> None:
    ds = make(str(tmp_path / "ds"))
    ds.checkout("dev", create=True)
    ds.x.extend([100, 101])
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.labels.extend(["b", "a", "b"])
    ds.checkout("main")
    ds.x.append(11)
    ds.merge("dev")  # dev's head has changes: committed first
    assert ds.x.numpy().ravel().tolist() == [*range(10), 11, 100, 101]
    assert ds.labels.numpy().ravel().tolist() == [1, 0, 1]
    assert ds.labels.info["class_names"] == ["a", "b"]
    messages = [c["message"] for c in ds.commits]
    assert messages[0].startswith("Merge ") and messages[0].endswith(" into main")
    assert "Auto commit before merging into main" in [
        c["message"] for c in shoal.load(str(tmp_path / "ds@dev")).commits
    ]
    # the new tensor's chunks are not copied: the head's chunk set points at dev's commit
    again = shoal.load(str(tmp_path / "ds"))
    assert len(again.labels) == 3 and again.x.numpy()[-1].tolist() == [101]
    again.labels.append("a")
    assert again.labels.numpy().ravel().tolist() == [1, 0, 1, 0]


def test_nothing_to_merge(tmp_path, capsys) -> None:
    ds = make(str(tmp_path / "ds"))
    ds.checkout("dev", create=True)
    ds.checkout("main")
    ds.x.append(1)
    ds.commit("m")
    ds.merge("dev")
    assert "No merge needed" in capsys.readouterr().out
    assert ds.commits[0]["message"] == "m"


def test_merge_bad_requests(tmp_path) -> None:
    ds = make(str(tmp_path / "ds"))
    with pytest.raises(errors.VersionError, match="'nope'"):
        ds.merge("nope")
    first = ds.commits[0]["commit"]
    ds.checkout(first)
    with pytest.raises(errors.ReadOnlyError):
        ds.merge("main")


def test_merge_deletes_tensors_deleted_on_the_target_when_asked(tmp_path) -> None:
    ds = make(str(tmp_path / "ds"))
    ds.create_tensor("y", dtype="int64")
    ds.y.extend([1, 2])
    ds.commit("with y")
    ds.checkout("dev", create=True)
    ds.delete_tensor("y")
    ds.x.append(100)
    ds.commit("y gone")
    ds.checkout("main")
    ds.checkout("keep", create=True)
    ds.merge("dev")  # y stays by default
    assert sorted(ds.tensors) == ["x", "y"] and ds.x.numpy()[-1].tolist() == [100]
    ds.checkout("main")
    ds.merge("dev", delete_removed_tensors=True)
    assert list(ds.tensors) == ["x"] and len(ds.x) == 11
    again = shoal.load(str(tmp_path / "ds"))
    assert list(again.tensors) == ["x"]
    assert again.diff(as_dict=True)["dataset"][0]["deleted"] == []  # recorded in the merge commit
    merge_commit = again.diff(again.commits[1]["commit"], as_dict=True)["dataset"][0][1]
    assert merge_commit["message"].startswith("Merge ") and merge_commit["deleted"] == ["y"]
