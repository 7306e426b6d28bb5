"""Edits interoperate with deeplake 3.9.52 both ways: what shoal updates and pops, deeplake
reads and continues; what deeplake edits, shoal reads and continues. Compressed images, tiled
samples, text, json, pops across chunk boundaries, and edits after a commit (copy-on-write,
commit diffs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.interop.snippets import with_deeplake, with_shoal, write

MAKE = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64", max_chunk_size=2000)
ds.create_tensor("img", htype="image", sample_compression="png")
ds.create_tensor("t", htype="text")
ds.create_tensor("j", htype="json")
ds.create_tensor("big", dtype="uint8", tiling_threshold=1000, max_chunk_size=4000)
with ds:
    for i in range(40):
        ds.append({"x": np.arange(10) + i, "img": np.full((4, 5, 3), i, np.uint8),
                   "t": "s%d" % i, "j": {"i": i}, "big": np.full((40, 40), i, np.uint8)})
if len(argv) > 1:
    print(json.dumps({"commit": ds.commit("base")}))
else:
    print(json.dumps(summary(ds)))
"""

EDIT_A = """
ds = deeplake.load(argv[0])
ds.x[3] = np.arange(10) * 100
ds.x[[5, 7]] = [np.zeros(10, np.int64), np.ones(10, np.int64)]
ds.img[2] = np.zeros((8, 8, 3), np.uint8)
ds.t[0:2] = ["a", "b"]
ds.j[4] = {"new": [1, 2]}
ds.big[1] = np.full((50, 50), 7, np.uint8)
ds.big[6] = np.full((3, 3), 6, np.uint8)
ds[9].update({"x": np.full(10, 9), "t": "nine"})
ds.pop(0)
ds.pop([1, 17, 30])
print(json.dumps(summary(ds)))
"""

EDIT_B = """
ds = deeplake.load(argv[0])
ds.append({"x": np.arange(10), "img": np.ones((2, 2, 3), np.uint8), "t": "new",
           "j": {"k": 1}, "big": np.full((45, 45), 3, np.uint8)})
ds.x[10] = np.full(10, -1)
ds.img[3] = np.full((6, 6, 3), 5, np.uint8)
ds.big[2] = np.full((41, 41), 2, np.uint8)
ds.t[5] = "b-side"
ds.pop([4, 20])
print(json.dumps(summary(ds)))
"""

READ = """
ds = deeplake.load(argv[0], read_only=True)
if len(argv) > 1:
    ds.checkout(argv[1])
print(json.dumps(summary(ds)))
"""

DIFF = """
ds = deeplake.load(argv[0], read_only=True)
d = ds.diff(argv[1], as_dict=True)["tensor"][0][0]
print(json.dumps({k: {"updated": sorted(v["data_updated"]), "deleted": sorted(v["data_deleted"]),
                      "added": list(v["data_added"])}
                  for k, v in d.items() if isinstance(v, dict)}))
"""


def test_shoal_edits_deeplake_reads_and_continues(tmp_path: Path, run_dl: Any) -> None:
    path = tmp_path / "ds"
    make, edit_a, edit_b, read = (
        write(tmp_path, n, c)
        for n, c in [("make", MAKE), ("a", EDIT_A), ("b", EDIT_B), ("r", READ)]
    )
    with_shoal(make, path)
    edited = with_shoal(edit_a, path)
    assert with_deeplake(run_dl, read, path) == edited
    # the same edits made by deeplake give the same dataset
    path_dl = tmp_path / "dl"
    with_deeplake(run_dl, make, path_dl)
    assert with_deeplake(run_dl, edit_a, path_dl) == edited
    # deeplake continues shoal's dataset, shoal continues deeplake's
    continued = with_deeplake(run_dl, edit_b, path)
    assert with_shoal(read, path) == continued
    assert with_shoal(edit_b, path_dl) == continued
    assert with_deeplake(run_dl, read, path_dl) == continued


def test_edits_after_a_commit_copy_on_write(tmp_path: Path, run_dl: Any) -> None:
    path = tmp_path / "ds"
    make, edit_a, read, diff = (
        write(tmp_path, n, c) for n, c in [("make", MAKE), ("a", EDIT_A), ("r", READ), ("d", DIFF)]
    )
    base = with_deeplake(run_dl, make, path, "commit")["commit"]
    before = with_deeplake(run_dl, read, path, base)
    edited = with_shoal(edit_a, path)
    assert with_deeplake(run_dl, read, path) == edited
    assert with_deeplake(run_dl, read, path, base) == before  # the commit is untouched
    assert with_shoal(read, path, base) == before
    # deeplake's diff of the head against the commit: what deeplake's own edits record
    path_dl = tmp_path / "dl"
    with_deeplake(run_dl, make, path_dl, "commit")
    with_deeplake(run_dl, edit_a, path_dl)
    dl_base = with_deeplake(run_dl, write(tmp_path, "c", _PARENT), path_dl)["parent"]
    ours, theirs = (
        with_deeplake(run_dl, diff, path, base),
        with_deeplake(run_dl, diff, path_dl, dl_base),
    )
    assert ours == theirs
    assert ours["x"]["updated"] and ours["x"]["deleted"] == [0, 2, 18, 31]


_PARENT = """
ds = deeplake.load(argv[0], read_only=True)
print(json.dumps({"parent": ds.version_state["commit_node"].parent.commit_id}))
"""


GROUPS = """
ds = deeplake.empty(argv[0], overwrite=True)
train = ds.create_group("train")
train.create_tensor("images", htype="image", sample_compression="png")
ds.create_tensor("train/labels", htype="class_label")
ds.create_group("a/b").create_tensor("c", htype="text")
ds.create_tensor("gone", dtype="int64")
for i in range(5):
    ds.append({"train/images": np.full((3, 3, 3), i, np.uint8), "train/labels": i % 2,
               "a/b/c": "t%d" % i, "gone": i})
if len(argv) > 1:
    ds.commit("base")
print(json.dumps({"summary": summary(ds), "groups": sorted(ds.meta.groups)}))
"""

GROUPS_EDIT = """
ds = deeplake.load(argv[0])
ds.rename_tensor("train/labels", "train/lab")
ds.delete_tensor("gone")
ds.train.lab[1] = 0
ds.a.b.c.pop(2)
print(json.dumps(summary(ds)))
"""

GROUPS_READ = """
ds = deeplake.load(argv[0], read_only=True)
d = ds.diff(ds.version_state["commit_node"].parent.commit_id, as_dict=True)["dataset"][0][0]
print(json.dumps({"summary": summary(ds), "groups": sorted(ds.meta.groups), "renamed": d["renamed"],
                  "deleted": d["deleted"], "train": sorted(ds.train.tensors), "len": len(ds.a.b)}))
"""


def test_groups_both_ways(tmp_path: Path, run_dl: Any) -> None:
    script, read = write(tmp_path, "g", GROUPS), write(tmp_path, "gr", READ)
    made = with_shoal(script, tmp_path / "ours")
    assert made == with_deeplake(run_dl, script, tmp_path / "theirs")
    assert with_deeplake(run_dl, read, tmp_path / "ours") == made["summary"]
    assert with_shoal(read, tmp_path / "theirs") == made["summary"]


def test_renames_deletes_and_edits_in_groups_after_a_commit(tmp_path: Path, run_dl: Any) -> None:
    make, edit, read = (
        write(tmp_path, n, c) for n, c in [("g", GROUPS), ("ge", GROUPS_EDIT), ("gr", GROUPS_READ)]
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with_deeplake(run_dl, make, ours, "commit")
    with_deeplake(run_dl, make, theirs, "commit")
    assert with_shoal(edit, ours) == with_deeplake(run_dl, edit, theirs)
    seen = with_deeplake(run_dl, read, theirs)
    assert seen["renamed"] == {"train/labels": "train/lab"} and seen["deleted"] == ["gone"]
    assert with_deeplake(run_dl, read, ours) == seen
    assert with_shoal(write(tmp_path, "r", READ), ours) == seen["summary"]
