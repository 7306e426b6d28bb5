"""Deleting and renaming a group are one journalled flush each: a writer killed before or
after any of their storage writes leaves the dataset as it was or as it is after, never with
some of the group's tensors moved or gone (tests/test_edit_crash.py does the killing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import shoal
from tests.test_edit_crash import kill_everywhere


def make_base(path: Path) -> None:
    ds = shoal.empty(str(path))
    ds.create_group("train")
    ds.train.create_tensor("x", dtype="int64")
    ds["train"].create_group("extra")
    ds["train/extra"].create_tensor("img", htype="image", sample_compression="png")
    ds.create_tensor("top", dtype="int64")
    with ds:
        ds.train.x.extend(np.arange(10))
        ds["train/extra/img"].extend(np.zeros((10, 3, 3, 3), np.uint8))
        ds.top.extend(np.arange(10))
    ds.commit("base")
    ds.close()  # its writer lock goes: the edits are made by other processes


def summary(ds: shoal.Dataset) -> dict[str, Any]:
    return {
        "tensors": sorted(ds.tensors),
        "groups": sorted(ds.groups),
        "values": {n: ds[n].numpy().ravel().tolist() for n in sorted(ds.tensors)},
    }


def rename(ds: shoal.Dataset) -> None:
    ds.rename_group("train", "training")


def delete(ds: shoal.Dataset) -> None:
    ds.delete_group("train")


def test_kill_at_every_write_of_a_group_rename(tmp_path: Path) -> None:
    kills = kill_everywhere(tmp_path, make_base, rename, summary)
    assert kills.after["tensors"] == ["top", "training/extra/img", "training/x"]
    assert any(c.committed for c in kills.cases) and not all(c.committed for c in kills.cases)


def test_kill_at_every_write_of_a_group_delete(tmp_path: Path) -> None:
    kills = kill_everywhere(tmp_path, make_base, delete, summary)
    assert kills.after["tensors"] == ["top"] and kills.after["groups"] == []
    assert any(c.committed for c in kills.cases) and not all(c.committed for c in kills.cases)
