"""Sequence tensors both ways with deeplake 3.9.52: ``sequence[image]`` (jpeg),
``sequence[class_label]``, ``sequence[generic]``, ``sequence[text]`` and
``sequence[link[image]]`` written by one library read the same in the other, appends by the
other follow, and the metas and encoders shoal writes are deeplake's byte for byte."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.interop import sequence_edit_steps as steps

import shoal
from shoal import _native
from shoal.engine.encoders import CommitDiff

DL_SEQ = Path(__file__).resolve().parent / "dl_sequences.py"
NAMES = ("frames", "labels", "g", "txt", "lk", "sm")
FIRST_COMMIT = "firstdbf9474d461a19e9333c2fd19b46115348f"
# Files whose bytes depend only on what was written (chunk names and ids are random).
DETERMINISTIC = re.compile(
    r"(tensor_meta\.json|tensor_info\.json|sequence_index/unsharded|creds_index/unsharded|"
    r"commit_diff|dataset_meta\.json)$"
)


def _files(root: Path) -> list[str]:
    rng = np.random.default_rng(5)
    out = []
    for i in range(3):
        p = root / f"f{i}.png"
        p.write_bytes(_native.png_encode(rng.integers(0, 255, (4, 5, 3), dtype=np.uint8)))
        out.append(str(p))
    return out


def _run(py: str, env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        [py, str(DL_SEQ), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def _frames(seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (8, 6, 3), dtype=np.uint8) for _ in range(n)]


def _write_shoal(path: Path, files: list[str]) -> None:
    """What dl_sequences.py ``write`` makes, made by shoal."""
    ds = shoal.empty(str(path))
    ds.create_tensor("frames", htype="sequence[image]", sample_compression="jpeg")
    ds.create_tensor("labels", htype="sequence[class_label]")
    ds.create_tensor("g", htype="sequence[generic]", dtype="int64")
    ds.create_tensor("txt", htype="sequence[text]")
    ds.create_tensor("lk", htype="sequence[link[image]]", sample_compression="png")
    ds.frames.append(_frames(1, 3))
    ds.frames.append(_frames(2, 2))
    ds.labels.extend([["a", "b"], ["b", "c", "a"]])
    ds.g.extend([np.arange(6).reshape(3, 2), [np.arange(2), np.arange(3)]])
    ds.g.append([])
    ds.txt.extend([["hi", "there"], ["x"]])
    ds.lk.append([shoal.link(f) for f in files])
    ds.lk.append([shoal.link(files[0])])
    steps.create_small(ds)
    ds.commit("sequences")


def _append_more(ds: shoal.Dataset, files: list[str]) -> None:
    """One more sample in each tensor, then a commit (a dataset's continuation)."""
    ds.frames.append(_frames(3, 1))
    ds.labels.append(["c"])
    ds.g.append([np.array([7, 8, 9, 10])])
    ds.txt.append(["z", "y", "w"])
    ds.lk.append([shoal.link(files[1]), shoal.link(files[2])])
    ds.commit("more")


def _shoal_view(path: Path) -> dict[str, Any]:
    """What dl_sequences.py ``read`` dumps, read by shoal."""
    ds = shoal.load(str(path), read_only=True)
    got: dict[str, Any] = {}
    for name in NAMES:
        t = ds[name]
        got[name] = {
            "htype": t.htype,
            "len": len(t),
            "shape": list(t.shape),
            "samples": [
                [np.asarray(x).tolist() for x in t[i].numpy(aslist=True)] for i in range(len(t))
            ],
        }
        samples = got[name]["samples"]
        got[name]["item"] = (
            np.asarray(t[0][1].numpy()).tolist() if samples and len(samples[0]) > 1 else None
        )
    got["class_names"] = list(ds.labels.info.class_names)
    return got


def _deterministic(root: Path) -> dict[str, bytes]:
    out = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and DETERMINISTIC.search(rel) and not rel.startswith("versions/"):
            out[rel] = p.read_bytes()
    return out


def _close(a: Any, b: Any) -> bool:
    """Equal, but jpeg pixels may differ by a decoder's rounding (shoal's and PIL's)."""
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        return False
    return bool(np.abs(x.astype(np.int64) - y.astype(np.int64)).max(initial=0) <= 2)


def _assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert ours["class_names"] == theirs["class_names"]
    for name in NAMES:
        a, b = ours[name], theirs[name]
        for k in ("htype", "len", "shape"):
            if b[k] != "error":  # deeplake cannot tell the shape of g (an empty sample)
                assert a[k] == b[k], (name, k, a[k], b[k])
        assert [len(s) for s in a["samples"]] == [len(s) for s in b["samples"]], name
        for sa, sb in zip(a["samples"], b["samples"], strict=True):
            for x, y in zip(sa, sb, strict=True):
                assert (x == y) if name != "frames" else _close(x, y), name
        if name == "frames" and a["item"] is not None and b["item"] is not None:
            assert _close(a["item"], b["item"])
        else:
            assert a["item"] == b["item"], name


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    d = tmp_path / "files"
    d.mkdir()
    return _files(d)


def test_deeplake_sequences_read_in_shoal_and_appended(
    tmp_path: Path, files: list[str], deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    path = tmp_path / "dl"
    _run(deeplake_python, deeplake_env, "write", str(path), json.dumps(files))
    out = tmp_path / "dl.json"
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    theirs = json.loads(out.read_text())
    _assert_same(_shoal_view(path), theirs)
    assert theirs["g"]["samples"][2] == [] and theirs["frames"]["shape"] == [2, None, 8, 6, 3]
    assert theirs["g"]["shape"] == "error"  # shoal's is (3, None, None)
    assert shoal.load(str(path), read_only=True).g.shape == (3, None, None)

    # shoal appends to deeplake's tensors; deeplake reads every sample back
    _append_more(shoal.load(str(path)), files)
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    after = json.loads(out.read_text())
    _assert_same(_shoal_view(path), after)
    assert after["g"]["samples"][3] == [[7, 8, 9, 10]]
    assert after["txt"]["samples"][2] == [["z"], ["y"], ["w"]]
    assert after["lk"]["len"] == 3 and len(after["lk"]["samples"][2]) == 2


def test_shoal_sequences_read_in_deeplake_and_appended(
    tmp_path: Path, files: list[str], deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    path = tmp_path / "sh"
    _write_shoal(path, files)
    out = tmp_path / "sh.json"
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    theirs = json.loads(out.read_text())
    _assert_same(_shoal_view(path), theirs)
    assert theirs["labels"]["htype"] == "sequence[class_label]"
    assert theirs["lk"]["htype"] == "link[sequence[image]]"  # deeplake's name for it

    # deeplake appends to shoal's tensors and commits; shoal reads it all, at both commits
    _run(deeplake_python, deeplake_env, "append", str(path), json.dumps(files))
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    after = json.loads(out.read_text())
    _assert_same(_shoal_view(path), after)
    ds = shoal.load(str(path), read_only=True)
    assert len(ds.txt) == 3 and ds.txt[2].text() == ["z", "y", "w"]
    ds.checkout(FIRST_COMMIT)
    assert [len(ds[n]) for n in NAMES] == [2, 2, 3, 2, 2, 6]
    assert ds.txt[1].text() == ["x"] and ds.g[2].numpy().shape == (0, 0)


def test_shoal_writes_deeplakes_bytes(
    tmp_path: Path, files: list[str], deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    """Metas, sequence and creds indexes and commit diffs: the same bytes from both."""
    dl, sh = tmp_path / "dl", tmp_path / "sh"
    _run(deeplake_python, deeplake_env, "write", str(dl), json.dumps(files))
    _write_shoal(sh, files)
    theirs, ours = _deterministic(dl), _deterministic(sh)
    assert any(k.endswith("sequence_index/unsharded") for k in theirs)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        assert ours[key] == theirs[key], key
    # and after each appends and commits again (a new commit's diffs count samples)
    _run(deeplake_python, deeplake_env, "append", str(dl), json.dumps(files))
    _append_more(shoal.load(str(sh)), files)

    def versioned(root: Path) -> dict[str, bytes]:
        """Deterministic files of the head and of its parent (the second commit)."""
        vc = json.loads((root / "version_control_info.json").read_text())
        head = vc["branches"]["main"]
        names = {head: "head", vc["commits"][head]["parent"]: "second"}
        out = {}
        for commit, label in names.items():
            base = root / "versions" / commit
            for p in base.rglob("*"):
                rel = p.relative_to(base).as_posix()
                if p.is_file() and DETERMINISTIC.search(rel):
                    out[f"{label}/{rel}"] = p.read_bytes()
        return out

    v_theirs, v_ours = versioned(dl), versioned(sh)
    assert sorted(v_ours) == sorted(v_theirs)
    for key in v_theirs:
        assert v_ours[key] == v_theirs[key], key


def _versioned(root: Path) -> dict[str, bytes]:
    """Deterministic files of every commit, by the commit's message."""
    vc = json.loads((root / "version_control_info.json").read_text())
    out = {}
    for commit, info in vc["commits"].items():
        label = info.get("commit_message") or ("head" if commit == vc["branches"]["main"] else "")
        base = root / "versions" / commit
        for p in base.rglob("*"):
            rel = p.relative_to(base).as_posix()
            if p.is_file() and DETERMINISTIC.search(rel):
                out[f"{label}/{rel}"] = p.read_bytes()
    return out


def _assert_same_bytes(dl: Path, sh: Path) -> None:
    """Equal bytes; commit diffs up to the popped samples' ids (random: as many of them)."""
    theirs, ours = _versioned(dl), _versioned(sh)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        if key.endswith("commit_diff"):
            a, b = CommitDiff.parse(ours[key], key), CommitDiff.parse(theirs[key], key)
            assert len(a.deleted_ids) == len(b.deleted_ids), key
            a.deleted_ids = b.deleted_ids
            assert a.serialize() == theirs[key], (key, a, b)
        else:
            assert ours[key] == theirs[key], key


def test_edits_write_deeplakes_bytes(
    tmp_path: Path, files: list[str], deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    """Updates (whole samples and items) and pops, one across chunk boundaries: the same
    metas, sequence indexes, creds indexes and commit diffs from both, at every commit."""
    dl, sh = tmp_path / "dl", tmp_path / "sh"
    _run(deeplake_python, deeplake_env, "write", str(dl), json.dumps(files))
    _run(deeplake_python, deeplake_env, "edit", str(dl), json.dumps(files))
    _write_shoal(sh, files)
    steps.edit(shoal.load(str(sh)), shoal.link, files)
    _assert_same_bytes(dl, sh)
    _run(deeplake_python, deeplake_env, "edit_more", str(dl), json.dumps(files))
    steps.edit_more(shoal.load(str(sh)), shoal.link, files)
    _assert_same_bytes(dl, sh)
    out = tmp_path / "sh.json"
    _run(deeplake_python, deeplake_env, "read", str(sh), str(out))
    _assert_same(_shoal_view(sh), json.loads(out.read_text()))


def test_deeplake_edits_shoal_continues(
    tmp_path: Path, files: list[str], deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    path, out = tmp_path / "dl", tmp_path / "dl.json"
    _run(deeplake_python, deeplake_env, "write", str(path), json.dumps(files))
    _run(deeplake_python, deeplake_env, "edit", str(path), json.dumps(files))
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    theirs = json.loads(out.read_text())
    _assert_same(_shoal_view(path), theirs)
    assert theirs["sm"]["samples"] == [[[1, 2], [3, 4]], [[2, 2]], [[3, 3]]]
    assert theirs["txt"]["samples"][0] == [["hi"], ["you"]]
    steps.edit_more(shoal.load(str(path)), shoal.link, files)
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    after = json.loads(out.read_text())
    _assert_same(_shoal_view(path), after)
    assert after["sm"]["samples"] == [[[2, 2]], [[3, 3]], [[4, 4]]]
    assert after["g"]["samples"][0] == [[6, 7], [8, 9], [1, 1]]
    assert after["labels"]["len"] == 0 and after["txt"]["len"] == 0


def test_shoal_edits_deeplake_continues(
    tmp_path: Path, files: list[str], deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    path, out = tmp_path / "sh", tmp_path / "sh.json"
    _write_shoal(path, files)
    steps.edit(shoal.load(str(path)), shoal.link, files)
    shoal.load(str(path)).rechunk(["sm", "frames"])  # chunks cut again, the same samples
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    theirs = json.loads(out.read_text())
    _assert_same(_shoal_view(path), theirs)
    assert theirs["labels"]["samples"] == [[[3], [0]]] and theirs["class_names"][-1] == "d"
    _run(deeplake_python, deeplake_env, "edit_more", str(path), json.dumps(files))
    _run(deeplake_python, deeplake_env, "read", str(path), str(out))
    after = json.loads(out.read_text())
    _assert_same(_shoal_view(path), after)
    assert len(after["frames"]["samples"]) == 2 and after["lk"]["len"] == 2
    ds = shoal.load(str(path))
    ds.checkout(FIRST_COMMIT)
    assert [len(ds[n]) for n in NAMES] == [2, 2, 3, 2, 2, 6]


def test_merge_of_sequence_updates_as_deeplakes(
    tmp_path: Path, files: list[str], deeplake_python: str, deeplake_env: dict[str, str]
) -> None:
    """A branch's updates of sequence samples merged by each library into copies of one
    dataset: the same values and the same metas, indexes and diffs. A sample the target
    appends later is merged too (after a refused conflict that changed nothing), and deeplake
    reads the result."""
    dl = tmp_path / "dl"
    _run(deeplake_python, deeplake_env, "write", str(dl), json.dumps(files))
    _run(deeplake_python, deeplake_env, "branch_updates", str(dl), json.dumps(files))
    sh = tmp_path / "sh"
    shutil.copytree(dl, sh)
    _run(deeplake_python, deeplake_env, "merge", str(dl), json.dumps(files))
    steps.merge(shoal.load(str(sh)), shoal.link, files)
    _assert_same_bytes(dl, sh)
    out = tmp_path / "sh.json"
    _run(deeplake_python, deeplake_env, "read", str(sh), str(out))
    merged = json.loads(out.read_text())
    _assert_same(_shoal_view(sh), merged)
    assert merged["g"]["samples"][:2] == [[[0, 0], [2, 3], [4, 5]], [[5, 5], [6, 6, 6]]]
    assert merged["txt"]["samples"][0] == [["p"], ["q"]] and merged["sm"]["len"] == 6

    ds = shoal.load(str(sh))
    ds.checkout("alt")
    ds.g.append([np.array([1, 1])])
    ds.commit("a new sample")
    ds.checkout("main")

    def stored() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sh.rglob("*") if p.is_file() and "lock" not in p.name}

    before = stored()
    with pytest.raises(shoal.errors.MergeConflictError, match="'g' at indices"):
        ds.merge("alt")
    assert stored() == before
    ds.merge("alt", conflict_resolution="ours")  # the new sample comes (merge_sequences)
    assert [a.tolist() for a in ds.g[-1].numpy(aslist=True)] == [[1, 1]]
    ds.close()
    _run(deeplake_python, deeplake_env, "read", str(sh), str(out))
    _assert_same(_shoal_view(sh), json.loads(out.read_text()))
