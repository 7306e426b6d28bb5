"""Version control in shoal alone: commit, checkout, branches, log, diff, reset and
delete_branch, and the errors of bad requests (nothing changed on storage after one).
deeplake compatibility of the same operations: tests/interop/test_versions_interop.py."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal import errors
from shoal.format.keys import FIRST_COMMIT_ID


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a digest of its bytes."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def make(path: Path) -> tuple[Any, str]:
    """``x`` with 0..9 committed, then 10 and 11 committed: the second commit's id."""
    ds = shoal.empty(str(path))
    ds.create_tensor("x", dtype="int64", max_chunk_size=64)
    ds.x.extend(np.arange(10))
    assert ds.commit("first") == FIRST_COMMIT_ID
    ds.x.extend([10, 11])
    second = ds.commit("second")
    return ds, second


def test_commit_ids_and_history(tmp_path) -> None:
    ds, second = make(tmp_path / "ds")
    assert ds.commit_id == second and ds.pending_commit_id not in (second, FIRST_COMMIT_ID)
    assert [c["message"] for c in ds.commits] == ["second", "first"]
    assert [c["commit"] for c in ds.commits] == [second, FIRST_COMMIT_ID]
    assert ds.commits[0]["author"] == "public" and ds.commits[0]["time"]
    assert ds.branches == ["main"] and ds.branch == "main"
    assert not ds.has_head_changes
    with pytest.raises(errors.EmptyCommitError, match="allow_empty=True"):
        ds.commit("nothing")
    third = ds.commit("empty", allow_empty=True)
    assert ds.commit_id == third
    # a fresh handle sees the same history
    again = shoal.load(str(tmp_path / "ds"))
    assert [c["message"] for c in again.commits] == ["empty", "second", "first"]


def test_writes_after_commit_leave_old_commits_as_they_were(tmp_path) -> None:
    ds, second = make(tmp_path / "ds")
    ds.x.extend(np.arange(100, 140))  # into the last chunk of an old commit: copied first
    for ref, n in ((FIRST_COMMIT_ID, 10), (second, 12), ("main", 52)):
        ds.checkout(ref)
        np.testing.assert_array_equal(ds.x.numpy()[:10].ravel(), np.arange(10))
        assert len(ds.x) == n
    np.testing.assert_array_equal(ds.x.numpy()[-40:].ravel(), np.arange(100, 140))


def test_past_commit_is_read_only(tmp_path) -> None:
    ds, _ = make(tmp_path / "ds")
    ds.checkout(FIRST_COMMIT_ID)
    assert ds.commit_id == FIRST_COMMIT_ID and not ds.is_head_node
    before = snapshot(tmp_path / "ds")
    with pytest.raises(errors.ReadOnlyError, match=r"past version.*create=True"):
        ds.x.append(1)
    with pytest.raises(errors.ReadOnlyError):
        ds.commit("no")
    assert snapshot(tmp_path / "ds") == before


def test_branches(tmp_path) -> None:
    ds, second = make(tmp_path / "ds")
    assert ds.checkout("dev", create=True) == second  # no head changes: from the last commit
    ds.x.append(99)
    d1 = ds.commit("on dev")
    ds.checkout("main")
    assert len(ds.x) == 12
    ds.checkout("dev")
    assert ds.x.numpy()[-1].tolist() == [99] and ds.commit_id == d1
    assert sorted(ds.branches) == ["dev", "main"]
    # with head changes, checkout(create=True) commits them first
    ds.x.append(100)
    ds.checkout("dev2", create=True)
    assert ds.commits[0]["message"] == "auto commit before checkout to dev2"
    assert ds.x.numpy()[-1].tolist() == [100]
    # a branch from a past commit
    ds.checkout(FIRST_COMMIT_ID)
    ds.checkout("old", create=True)
    assert len(ds.x) == 10 and ds.commit_id == FIRST_COMMIT_ID
    ds.x.append(5)
    assert len(ds.x) == 11


def test_bad_checkouts_change_nothing(tmp_path) -> None:
    ds, _ = make(tmp_path / "ds")
    ds.checkout("dev", create=True)
    before = snapshot(tmp_path / "ds")
    with pytest.raises(errors.VersionError, match=r"'nope'.*create=True"):
        ds.checkout("nope")
    with pytest.raises(errors.BranchExistsError, match="'main' already exists"):
        ds.checkout("main", create=True)
    with pytest.raises(errors.BranchExistsError, match="commit id"):
        ds.checkout(FIRST_COMMIT_ID, create=True)
    assert snapshot(tmp_path / "ds") == before
    assert ds.branch == "dev"


def test_reset(tmp_path, capsys) -> None:
    ds, second = make(tmp_path / "ds")
    ds.reset()
    assert "no uncommitted changes" in capsys.readouterr().out
    head = ds.pending_commit_id
    ds.x.extend([7, 7, 7])
    assert ds.has_head_changes
    ds.reset()
    assert len(ds.x) == 12 and ds.commit_id == second and ds.pending_commit_id != head
    assert snapshot(tmp_path / "ds" / "versions" / head) == {}
    assert len(shoal.load(str(tmp_path / "ds")).x) == 12
    # at a past commit there is nothing to reset
    ds.checkout(FIRST_COMMIT_ID)
    ds.reset()
    assert "not at the head" in capsys.readouterr().out


def test_reset_before_any_commit_empties_the_dataset(tmp_path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    ds.x.append(1)
    ds.reset()
    assert list(ds.tensors) == [] and ds.branches == ["main"]
    assert list(shoal.load(str(tmp_path / "ds")).tensors) == []


def test_delete_branch(tmp_path) -> None:
    ds, _ = make(tmp_path / "ds")
    ds.checkout("dev", create=True)
    ds.x.append(1)
    dev_head = ds.commit("dev work")
    ds.checkout("sub", create=True)
    before = snapshot(tmp_path / "ds")
    with pytest.raises(errors.VersionError, match="checked out"):
        ds.delete_branch("sub")
    with pytest.raises(errors.VersionError, match="main branch"):
        ds.delete_branch("main")
    ds.checkout("main")
    with pytest.raises(errors.VersionError, match="other branches start from it"):
        ds.delete_branch("dev")
    with pytest.raises(errors.VersionError, match="does not exist"):
        ds.delete_branch("nope")
    assert snapshot(tmp_path / "ds") == before
    ds.delete_branch("sub")
    ds.delete_branch("dev")
    assert ds.branches == ["main"]
    assert snapshot(tmp_path / "ds" / "versions" / dev_head) == {}
    assert shoal.load(str(tmp_path / "ds")).branches == ["main"]


def test_log_and_diff(tmp_path, capsys) -> None:
    ds, second = make(tmp_path / "ds")
    ds.x.append(5)
    ds.log()
    out = capsys.readouterr().out
    assert "Current Branch: main" in out and "uncommitted changes" in out
    assert out.index(f"Commit : {second} (main)") < out.index(f"Commit : {FIRST_COMMIT_ID}")
    head = ds.diff(as_dict=True)
    assert head["tensor"][0]["x"]["data_added"] == [12, 13]
    both = ds.diff(FIRST_COMMIT_ID, as_dict=True)
    assert [c["commit_id"] for c in both["tensor"][0]] == [ds.pending_commit_id, second]
    assert both["tensor"][1] == []
    ds.diff(FIRST_COMMIT_ID)
    text = capsys.readouterr().out
    assert "* Added 1 sample: [12-13]" in text and "* Added 2 samples: [10-12]" in text
    with pytest.raises(errors.VersionError, match="'nope'"):
        ds.diff("nope", as_dict=True)


def test_async_version_control(tmp_path) -> None:
    import asyncio

    async def main() -> None:
        ds = await shoal.empty_async(str(tmp_path / "ds"))
        x = await ds.create_tensor_async("x", dtype="int64")
        await x.extend_async(np.arange(3))
        first = await ds.commit_async("one")
        await ds.checkout_async("dev", create=True)
        assert ds.branch == "dev" and ds.commit_id == first
        await ds.checkout_async(first)
        assert len(ds.x) == 3
        await ds.close_async()

    asyncio.run(main())
