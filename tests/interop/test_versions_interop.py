"""Histories both ways: commits, branches and merges written by shoal are read by deeplake
3.9.52 at every commit and branch head with the same samples, commits, log and diff, and
deeplake continues them; the same with deeplake writing and shoal continuing.

Both libraries run the same scripts (tests/interop/vc_ops.py) and dump every version of the
result; the dumps must be equal, key for key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.interop import vc_ops

import shoal

pytestmark = pytest.mark.interop

TENSORS = {
    "x": {"dtype": "int64", "max_chunk_size": 200},
    "t": {"htype": "text"},
    "img": {"htype": "image", "sample_compression": "png"},
}

# main: two commits; dev from the second, one commit, and uncommitted samples on both heads
FIRST = [
    ["create", TENSORS],
    ["append", {"x": list(range(12)), "t": [f"s{i}" for i in range(12)], "img": list(range(12))}],
    ["commit", "c1"],
    ["append", {"x": [12, 13], "t": ["s12", "s13"], "img": [12, 13]}],
    ["commit", "c2"],
    ["checkout", "dev", True],
    ["append", {"x": [100], "t": ["dev"], "img": [100]}],
    ["commit", "d1"],
    ["append", {"x": [101], "t": ["dev2"], "img": [101]}],
    ["checkout", "main", False],
    ["append", {"x": [14], "t": ["s14"], "img": [14]}],
    ["close"],
]

# the other library continues: commits on both branches, a branch from a past commit
SECOND = [
    ["load"],
    ["append", {"x": [15], "t": ["s15"], "img": [15]}],
    ["commit", "m3"],
    ["checkout", "dev", False],
    ["commit", "d2"],
    ["append", {"x": [102], "t": ["dev3"], "img": [102]}],
    ["checkout", "$c1", False],
    ["checkout", "old", True],
    ["append", {"x": [200], "t": ["old"], "img": [200]}],
    ["commit", "o1"],
    ["close"],
]


def _shoal_dump(path: str) -> dict[str, Any]:
    return json.loads(json.dumps(vc_ops.dump(shoal, path)))


def _dl_dump(run_dl: Any, path: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "dl-dump.json"
    run_dl("vc-dump", path, out)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _dl_run(run_dl: Any, path: str, steps: list[Any], names: dict[str, str]) -> dict[str, str]:
    proc = run_dl("vc-run", path, json.dumps(steps), json.dumps(names))
    result: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert ours["branches"] == theirs["branches"]
    assert sorted(ours["refs"]) == sorted(theirs["refs"])
    for ref in theirs["refs"]:
        for field in ("tensors", "commit_id", "pending_commit_id", "commits", "log"):
            assert ours["refs"][ref][field] == theirs["refs"][ref][field], (ref, field)
    assert sorted(ours["diffs"]) == sorted(theirs["diffs"])
    for key in theirs["diffs"]:
        assert ours["diffs"][key] == theirs["diffs"][key], key


def _check_story(dump: dict[str, Any], names: dict[str, str], continued: bool) -> None:
    """The dumps agree; this makes sure they agree on the history the scripts wrote."""
    refs = dump["refs"]
    assert refs[names["c1"]]["tensors"]["x"] == [[i, i * 10] for i in range(12)]
    assert refs[names["c2"]]["tensors"]["t"][-1] == "s13"
    assert refs[names["d1"]]["tensors"]["t"][-1] == "dev"
    main = refs["main"]["tensors"]["t"]
    dev = refs["dev"]["tensors"]["t"]
    if not continued:
        assert main[-1] == "s14" and dev[-2:] == ["dev", "dev2"]
        assert [c["message"] for c in refs["main"]["commits"]] == ["c2", "c1"]
        return
    assert main[-2:] == ["s14", "s15"] and dev[-3:] == ["dev", "dev2", "dev3"]
    assert refs["old"]["tensors"]["t"] == [f"s{i}" for i in range(12)] + ["old"]
    assert [c["message"] for c in refs["dev"]["commits"]] == ["d2", "d1", "c2", "c1"]
    assert refs[names["o1"]]["tensors"]["img"][-1] == 200


def test_shoal_history_read_and_continued_by_deeplake(run_dl, tmp_path) -> None:
    path = str(tmp_path / "ds")
    names = vc_ops.run(shoal, path, FIRST, {})
    ours = _shoal_dump(path)
    _check_story(ours, names, continued=False)
    _assert_same(ours, _dl_dump(run_dl, path, tmp_path))
    names = _dl_run(run_dl, path, SECOND, names)
    theirs = _dl_dump(run_dl, path, tmp_path)
    _check_story(theirs, names, continued=True)
    _assert_same(_shoal_dump(path), theirs)


def test_deeplake_history_read_and_continued_by_shoal(run_dl, tmp_path) -> None:
    path = str(tmp_path / "ds")
    names = _dl_run(run_dl, path, FIRST, {})
    theirs = _dl_dump(run_dl, path, tmp_path)
    _check_story(theirs, names, continued=False)
    _assert_same(_shoal_dump(path), theirs)
    names = vc_ops.run(shoal, path, SECOND, names)
    ours = _shoal_dump(path)
    _check_story(ours, names, continued=True)
    _assert_same(ours, _dl_dump(run_dl, path, tmp_path))


def _normalised(dump: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A dump with commit ids replaced by the scripts' names for them (heads by "HEAD:branch",
    commits no step named, such as a merge's, by their message) and times by "T": what two
    runs of one script must share."""
    history = json.dumps(dump)
    ids = {v: k for k, v in names.items()}
    heads = {
        r["pending_commit_id"]: f"HEAD:{b}"
        for b, r in dump["refs"].items()
        if b in dump["branches"]
    }
    for commit_id, name in {**ids, **heads}.items():
        history = history.replace(commit_id, name)
    unnamed = {
        c["commit"]: f"commit:{c['message']}"
        for r in json.loads(history)["refs"].values()
        for c in r["commits"]
        if re.fullmatch(r"[0-9a-f]{40}", c["commit"])
    }
    for commit_id, name in unnamed.items():
        history = history.replace(commit_id, name)
    out: dict[str, Any] = json.loads(re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "T", history))
    # uncommitted heads that are no branch head any more (an auto-commit's) have no name
    out["refs"] = {k: v for k, v in out["refs"].items() if not re.fullmatch(r"[0-9a-f]{40}", k)}
    return out


def test_same_script_same_history(run_dl, tmp_path) -> None:
    """One script run by each library gives the same history: the same commits, samples,
    and the same changes recorded per commit (diffs compare commit_diff contents)."""
    ours_path, theirs_path = str(tmp_path / "shoal"), str(tmp_path / "deeplake")
    ours_names = vc_ops.run(shoal, ours_path, FIRST, {})
    theirs_names = _dl_run(run_dl, theirs_path, FIRST, {})
    ours = _normalised(_shoal_dump(ours_path), ours_names)
    theirs = _normalised(_dl_dump(run_dl, theirs_path, tmp_path), theirs_names)
    _assert_same(ours, theirs)


# merges: dev and main both append after c1, dev adds a tensor; main merges dev
MERGE = [
    ["create", TENSORS],
    ["append", {"x": list(range(12)), "t": [f"s{i}" for i in range(12)], "img": list(range(12))}],
    ["commit", "c1"],
    ["checkout", "dev", True],
    ["append", {"x": [100, 101], "t": ["d0", "d1"], "img": [100, 101]}],
    ["commit", "d1"],
    ["checkout", "main", False],
    ["append", {"x": [12], "t": ["m"], "img": [12]}],
    ["commit", "m1"],
    ["merge", "dev", None],
    ["append", {"x": [13], "t": ["after"], "img": [13]}],
    ["close"],
]


def test_merge_same_as_deeplake_and_readable_by_it(run_dl, tmp_path) -> None:
    ours_path, theirs_path = str(tmp_path / "shoal"), str(tmp_path / "deeplake")
    ours_names = vc_ops.run(shoal, ours_path, MERGE, {})
    theirs_names = _dl_run(run_dl, theirs_path, MERGE, {})
    ours = _shoal_dump(ours_path)
    main = ours["refs"]["main"]
    assert main["tensors"]["t"] == [f"s{i}" for i in range(12)] + ["m", "d0", "d1", "after"]
    assert main["commits"][0]["message"] == f"Merge {ours_names['d1']} into main"
    # the merged samples point at dev's chunks, as deeplake's do: the diffs agree too
    _assert_same(
        _normalised(ours, ours_names),
        _normalised(_dl_dump(run_dl, theirs_path, tmp_path), theirs_names),
    )
    # deeplake reads shoal's merge, and continues it
    _assert_same(ours, _dl_dump(run_dl, ours_path, tmp_path))
    _dl_run(
        run_dl,
        ours_path,
        [["load"], ["append", {"x": [14], "t": ["dl"], "img": [14]}], ["commit", "x"]],
        {},
    )
    assert _shoal_dump(ours_path)["refs"]["main"]["tensors"]["t"][-2:] == ["after", "dl"]


# updates after a commit: copied on write, and recorded in the diffs
UPDATES = [
    ["create", TENSORS],
    ["append", {"x": list(range(30)), "t": [f"s{i}" for i in range(30)], "img": list(range(30))}],
    ["commit", "c1"],
    ["update", "x", 2, 200],
    ["update", "t", 3, "three"],
    ["append", {"x": [30], "t": ["s30"], "img": [30]}],
    ["commit", "u1"],
    ["checkout", "dev", True],
    ["update", "img", 1, 111],
    ["update", "x", 29, 290],
    ["close"],
]


def test_updates_same_as_deeplake(run_dl, tmp_path) -> None:
    ours_path, theirs_path = str(tmp_path / "shoal"), str(tmp_path / "deeplake")
    ours_names = vc_ops.run(shoal, ours_path, UPDATES, {})
    theirs_names = _dl_run(run_dl, theirs_path, UPDATES, {})
    ours = _shoal_dump(ours_path)
    assert ours["refs"][ours_names["c1"]]["tensors"]["x"][2] == [2, 20]
    assert ours["refs"]["main"]["tensors"]["x"][2] == [200, 2000]
    assert ours["refs"]["dev"]["tensors"]["img"][1] == 111
    _assert_same(
        _normalised(ours, ours_names),
        _normalised(_dl_dump(run_dl, theirs_path, tmp_path), theirs_names),
    )
    _assert_same(ours, _dl_dump(run_dl, ours_path, tmp_path))
