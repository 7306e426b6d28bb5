"""Sequence samples only the target branch has, merged as deeplake 3.9.52 merges them: the
target's chunks their items fill whole are pointed at, edge items written again, the
sequence index merged run by run, the ids per sample and the shapes per item. The same
history merged by shoal and by deeplake gives the same chunk tables, chunk sets, sequence
indexes, metas, diffs and values, and each library continues the other's merge.

Where deeplake's own merge of the sequence index is wrong (the head's last row has as many
items per sample as the target's first new one), shoal writes the index an append would
(``merge_sequences``); deeplake reads and continues it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.interop.snippets import with_deeplake, with_shoal, write

from shoal.errors import MergeConflictError

HISTORY = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("g", htype="sequence[generic]", dtype="int64", max_chunk_size=300)
ds.create_tensor("f", htype="sequence[image]", sample_compression="jpeg", max_chunk_size=3000)
r = np.random.default_rng(0)

def frames(n, k):
    return [r.integers(0, 255, (6 + k % 3, 8, 3), dtype=np.uint8) for _ in range(n)]

with ds:
    for i in range(3):
        ds.append({"g": [np.arange(3) + i] * (2 + i), "f": frames(2 + i, i)})
ds.commit("c1")
ds.checkout("dev", create=True)
with ds:
    for i in range(14):
        n = 2 + i // 3
        ds.append({"g": [np.arange(3) + 10 * i] * n, "f": frames(n, i)})
ds.g[1] = [np.full(3, -1)] * 3
ds.g[0] = [np.full(3, -2)] * 2
ds.commit("d1")
with ds:
    ds.append({"g": [np.arange(3)] * 4, "f": frames(4, 1)})
ds.checkout("main")
ds.g[1] = [np.full(3, -5)] * 3
ds.g[2] = [np.full(3, -6)] * 4
ds.append({"g": [np.arange(3)] * HEAD_ITEMS, "f": frames(HEAD_ITEMS, 2)})
ds.commit("m1")
print(json.dumps({}))
"""

MERGE = """
ds = deeplake.load(argv[0])
ds.merge("dev", conflict_resolution=None if argv[1] == "none" else argv[1])
print(json.dumps(summary(ds)))
"""

LAYOUT = """
ds = deeplake.load(argv[0], read_only=True)
merge = ds.version_state["commit_node"].parent
ds.checkout(merge.commit_id)
out = {"summary": summary(ds), "lengths": [len(s) for s in ds.g.numpy(aslist=True)],
       "commit": merge.commit_id}
for name in ("g", "f", "_g_id", "_g_shape", "_f_id", "_f_shape", "_f_info"):
    eng = ds[name].chunk_engine
    cmap = eng.commit_chunk_map
    meta = ds[name].meta
    out[name] = {
        "lasts": eng.chunk_id_encoder.array[:, 1].tolist(),
        "pointers": sorted(k + ":" + v["commit_id"] + ":" + v.get("key", "")
                           for k, v in cmap.chunks.items() if v),
        "own": len([k for k, v in cmap.chunks.items() if not v]),
        "meta": [meta.length, meta.min_shape, meta.max_shape, meta.links],
        "seq": eng.sequence_encoder._encoded.tolist() if meta.is_sequence else None,
    }
d = ds.diff(merge.parent.commit_id, as_dict=True)["tensor"][0][0]
out["diff"] = {k: [list(v["data_added"]), sorted(v["data_updated"]), sorted(v["data_deleted"])]
               for k, v in d.items() if isinstance(v, dict)}
print(json.dumps(out, default=str))
"""

CONTINUE = """
ds = deeplake.load(argv[0])
ds.append({"g": [np.arange(3)] * 2, "f": [np.ones((6, 8, 3), np.uint8)] * 2})
ds.g[5] = [np.full(3, 7)] * len(ds.g[5].numpy(aslist=True))
ds.pop(6)
ds.commit("after")
print(json.dumps(summary(ds)))
"""

READ = """
ds = deeplake.load(argv[0], read_only=True)
print(json.dumps(summary(ds)))
"""


# files whose bytes do not depend on random chunk names
FILES = ("tensor_meta.json", "sequence_index/unsharded", "commit_diff", "tiles_index/unsharded")

# a sequence's items may differ in shape: each sample as the list of its items
SUMMARY = """
def summary(ds):
    return {n: [[np.asarray(x).tolist() for x in s] for s in ds[n].numpy(aslist=True)]
            for n in sorted(ds.tensors)}
"""


def _scripts(tmp: Path, head_items: int) -> list[Path]:
    history = HISTORY.replace("HEAD_ITEMS", str(head_items))
    return [
        write(tmp, n, SUMMARY + c)
        for n, c in [("h", history), ("m", MERGE), ("l", LAYOUT), ("c", CONTINUE), ("r", READ)]
    ]


def _merged_both(tmp: Path, run_dl: Any, head_items: int, resolution: str) -> tuple[Any, ...]:
    history, merge, layout, cont, read = _scripts(tmp, head_items)
    ours, theirs = tmp / "ours", tmp / "theirs"
    with_deeplake(run_dl, history, ours)
    shutil.copytree(ours, theirs)
    merged = with_deeplake(run_dl, merge, theirs, resolution)
    assert with_shoal(merge, ours, resolution) == merged or head_items == 2
    return ours, theirs, layout, cont, read, merged


@pytest.mark.parametrize("resolution", ["ours", "theirs"])
def test_sequence_merge_writes_what_deeplake_writes(
    tmp_path: Path, run_dl: Any, resolution: str
) -> None:
    ours, theirs, layout, cont, read, merged = _merged_both(tmp_path, run_dl, 5, resolution)
    want = with_deeplake(run_dl, layout, theirs)
    got = with_deeplake(run_dl, layout, ours)
    assert want["g"]["pointers"] and want["f"]["pointers"]  # whole chunks pointed at
    assert want["g"]["own"]  # and edge items written again
    for name in ("g", "f", "_g_id", "_g_shape", "_f_id", "_f_shape", "_f_info"):
        assert got[name] == want[name], name
    assert got["diff"] == want["diff"]
    assert got["summary"] == want["summary"] == merged
    for name in ("g", "f", "_g_id", "_g_shape", "_f_id", "_f_shape", "_f_info"):
        for f in FILES:  # byte for byte
            mine = ours / "versions" / got["commit"] / name / f
            dl = theirs / "versions" / want["commit"] / name / f
            assert mine.exists() == dl.exists(), (name, f)
            if dl.exists():
                assert mine.read_bytes() == dl.read_bytes(), (name, f)
    # each continues the other's merge
    continued = with_deeplake(run_dl, cont, ours)
    assert with_shoal(cont, theirs) == continued
    assert with_shoal(read, ours) == continued
    assert with_deeplake(run_dl, read, theirs) == continued


def test_sequence_merge_conflict_is_refused_as_deeplake_refuses(
    tmp_path: Path, run_dl: Any
) -> None:
    history, merge, *_ = _scripts(tmp_path, 5)
    with_deeplake(run_dl, history, tmp_path / "ds")
    with pytest.raises(AssertionError, match="MergeConflictError"):
        with_deeplake(run_dl, merge, tmp_path / "ds", "none")
    with pytest.raises(MergeConflictError, match="'g'"):
        with_shoal(merge, tmp_path / "ds", "none")
    read = write(tmp_path, "r2", SUMMARY + READ)
    before = with_deeplake(run_dl, read, tmp_path / "ds")
    assert with_shoal(read, tmp_path / "ds") == before
    assert len(before["g"]) == 4  # nothing merged


def test_sequence_merge_where_deeplake_misplaces_a_row(tmp_path: Path, run_dl: Any) -> None:
    """The head's last sample has 2 items, as the target's first new one: deeplake's merged
    index drops a row's samples (it reads back other lengths than were written); shoal's
    index is the one an append writes, which deeplake reads and continues."""
    ours, theirs, layout, cont, read, _ = _merged_both(tmp_path, run_dl, 2, "theirs")
    want = with_deeplake(run_dl, layout, theirs)
    got = with_deeplake(run_dl, layout, ours)
    lengths = [2, 3, 4, 2] + [2 + i // 3 for i in range(14)] + [4]
    assert got["lengths"] == lengths
    assert want["lengths"] != lengths  # deeplake's own merge reads back wrong
    assert got["g"]["seq"][:4] == [[2, 0, 0], [3, 2, 1], [4, 5, 2], [2, 9, 6]]
    for name in ("g", "f"):  # the chunks are placed the same
        assert got[name]["lasts"] == want[name]["lasts"], name
        assert got[name]["pointers"] == want[name]["pointers"], name
    continued = with_deeplake(run_dl, cont, ours)
    assert with_shoal(read, ours) == continued


POPS = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("g", htype="sequence[generic]", dtype="int64", max_chunk_size=200)
ds.create_tensor("f", htype="sequence[image]", sample_compression="png")

def add(start, lens):
    with ds:
        for i, n in enumerate(lens, start):
            ds.append({"g": [np.full(3, 10 * i + j) for j in range(n)],
                       "f": [np.full((4, 4, 3), (i + j) % 250, np.uint8) for j in range(n + 1)]})

add(0, [1, 2, 3])
ds.commit("c1")
ds.checkout("dev", create=True)
add(100, [2, 2, 3, 3, 1, 4, 4, 2])
ds.pop(6)
ds.pop(0)
ds.commit("d1")
ds.checkout("main")
ds.merge("dev")
ds.checkout("dev")
add(200, [5, 1, 1])
ds.commit("d2")
ds.checkout("main")
ds.pop(5)
ds.commit("m2")
print(json.dumps({}))
"""


def test_sequence_merge_after_pops_on_both_sides(tmp_path: Path, run_dl: Any) -> None:
    """The target popped samples of its own and of the common ancestor, the head popped one
    of a sample merged before: it comes back in a run of its own, before the target's new
    samples (two runs: two item ranges, the sequence index merged twice)."""
    _, merge, layout, cont, read = _scripts(tmp_path, 5)
    history = write(tmp_path, "p", SUMMARY + POPS)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with_deeplake(run_dl, history, ours)
    shutil.copytree(ours, theirs)
    merged = with_deeplake(run_dl, merge, theirs, "theirs")
    assert with_shoal(merge, ours, "theirs") == merged
    want = with_deeplake(run_dl, layout, theirs)
    got = with_deeplake(run_dl, layout, ours)
    assert want["lengths"] == [1, 2, 3, 2, 2, 1, 4, 4, 2, 3, 5, 1, 1]
    for name in ("g", "f", "_g_id", "_g_shape", "_f_id", "_f_shape"):
        assert got[name] == want[name], name
    assert got["diff"] == want["diff"] and got["summary"] == want["summary"]
    continued = with_deeplake(run_dl, cont, ours)
    assert with_shoal(cont, theirs) == continued
    assert with_shoal(read, ours) == continued


APPENDED = """
from PIL import Image
import os
ds = deeplake.empty(argv[0], overwrite=True)
links = argv[1] == "links"
if links:
    ds.create_tensor("lk", htype="sequence[link[image]]", sample_compression="png")
    ds.create_tensor("pl", htype="link[image]", sample_compression="png")
else:
    ds.create_tensor("lab", htype="sequence[class_label]", class_names=["a", "b"])
files = []
for i in range(6):
    p = os.path.join(os.path.dirname(argv[0]), f"img{i}.png")
    Image.fromarray(np.full((4, 5, 3), 40 * i, np.uint8)).save(p)
    files.append(p)

def add(lens, label):
    with ds:
        for k, n in enumerate(lens):
            if links:
                ds.lk.append([deeplake.link(files[(k + j) % 6]) for j in range(n)])
                ds.pl.append(deeplake.link(files[(k + n) % 6]) if n != 3 else None)
            else:
                ds.lab.append([label if j % 2 else "a" for j in range(n)])

add([1, 2], "b")
ds.commit("c1")
ds.checkout("dev", create=True)
add([2, 3, 1, 2], "c")
ds.commit("d1")
ds.checkout("main")
add([3], "d")
ds.commit("m1")
print(json.dumps({}))
"""

MORE_LINKS = """
import os
ds = deeplake.load(argv[0])
f = os.path.join(os.path.dirname(argv[0]), "img5.png")
ds.lk.append([deeplake.link(f)] * 2)
ds.pl.append(deeplake.link(f))
ds.commit("more")
print(json.dumps(summary(ds)))
"""

NAMED = """
ds = deeplake.load(argv[0], read_only=True)
out = summary(ds)
if "lab" in ds.tensors:
    out["names"] = [[ds.lab.info.class_names[int(v)] for v in np.asarray(s).ravel()]
                    for s in ds.lab.numpy(aslist=True)]
print(json.dumps(out))
"""


def _appended(tmp: Path, run_dl: Any, kind: str) -> tuple[Path, Path, Path, Path]:
    _, merge, _, _, _ = _scripts(tmp, 5)
    history = write(tmp, "a", SUMMARY + APPENDED)
    named = write(tmp, "n", SUMMARY + NAMED)
    ours, theirs = tmp / "ours" / "ds", tmp / "theirs" / "ds"
    ours.parent.mkdir()
    with_deeplake(run_dl, history, ours, kind)
    shutil.copytree(ours.parent, theirs.parent)
    return merge, named, ours, theirs


def test_sequences_of_links_are_appended(tmp_path: Path, run_dl: Any) -> None:
    """Links (in sequences, and plain ones) are appended from the target's samples, with
    their paths and creds keys: deeplake reads the same samples as after its own merge, and
    each library continues the other's merge."""
    merge, named, ours, theirs = _appended(tmp_path, run_dl, "links")
    with_deeplake(run_dl, merge, theirs, "theirs")
    with_shoal(merge, ours, "theirs")
    want = with_deeplake(run_dl, named, theirs)
    assert [len(s) for s in want["lk"]] == [1, 2, 3, 2, 3, 1, 2]
    assert len(want["pl"]) == 7
    assert with_deeplake(run_dl, named, ours) == want
    assert with_shoal(named, ours) == want
    more = write(tmp_path, "more", SUMMARY + MORE_LINKS)
    assert with_shoal(more, theirs) == with_deeplake(run_dl, more, ours)


def test_sequences_of_renamed_labels_are_appended_by_name(tmp_path: Path, run_dl: Any) -> None:
    """Class names neither side's extend: deeplake 3.9.52 fails half way through such a merge
    of a sequence tensor (``copy_tensor_slice`` reads item ranges it never made); shoal appends
    the target's labels by name, as it does for plain class labels, and deeplake reads them."""
    merge, named, ours, theirs = _appended(tmp_path, run_dl, "labels")
    with pytest.raises(AssertionError, match="flat_ranges"):
        with_deeplake(run_dl, merge, theirs, "theirs")
    with_shoal(merge, ours, "theirs")
    got = with_deeplake(run_dl, named, ours)
    assert got["names"] == [
        ["a"],
        ["a", "b"],
        ["a", "d", "a"],
        ["a", "c"],
        ["a", "c", "a"],
        ["a"],
        ["a", "c"],
    ]
    assert with_shoal(named, ours) == got
