"""Merged samples are stored as deeplake 3.9.52 stores them: the target's chunks that the
appended samples fill whole are pointed at from the merge commit (not copied, not encoded
again: jpegs keep their bytes), only samples at the edges of those chunks are written again,
and the merge commit's diff counts only those. The same history merged by shoal and by
deeplake gives the same chunk tables, chunk sets, diffs, log and values, and each library
continues the other's merge."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.interop.snippets import with_deeplake, with_shoal, write

HISTORY = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64", max_chunk_size=400)
ds.create_tensor("img", htype="image", sample_compression="jpeg")
ds.create_tensor("big", dtype="uint8", tiling_threshold=1000, max_chunk_size=4000)
ds.create_tensor("lab", htype="class_label", class_names=["a", "b"])
r = np.random.default_rng(0)
with ds:
    for i in range(12):
        ds.append({"x": np.arange(5) + i, "img": r.integers(0, 255, (8, 8, 3), dtype=np.uint8),
                   "big": np.full((4, 4), i, np.uint8), "lab": i % 2})
ds.commit("c1")
ds.checkout("dev", create=True)
with ds:
    for i in range(30):
        ds.append({"x": np.arange(5) + 100 + i,
                   "img": r.integers(0, 255, (8, 8, 3), dtype=np.uint8),
                   "big": np.full((50, 50) if i == 3 else (4, 4), i, np.uint8), "lab": "c"})
ds.x[2] = np.full(5, -2)
ds.commit("d1")
ds.checkout("main")
ds.x[0] = np.zeros(5, np.int64)
ds.pop(3)
ds.commit("m1")
ds.x[1] = np.ones(5, np.int64)
print(json.dumps({}))
"""

MERGE = """
ds = deeplake.load(argv[0])
ds.merge("dev")
print(json.dumps(summary(ds)))
"""

LAYOUT = """
ds = deeplake.load(argv[0], read_only=True)
node = ds.version_state["commit_node"]
merge = node.parent
ds.checkout(merge.commit_id)
log, n = [], merge
while n is not None:
    log.append(n.commit_message)
    n = n.parent
out = {"summary": summary(ds), "log": log}
for name in ("x", "img", "big", "lab", "_x_id", "_img_shape"):
    eng = ds[name].chunk_engine
    cmap = eng.commit_chunk_map
    out[name] = {
        "lasts": eng.chunk_id_encoder.array[:, 1].tolist(),
        "tiles": sorted((int(k), [list(v[0]), list(v[1])]) for k, v in eng.tile_encoder.entries.items()),
        "pointers": sorted(k + ":" + v["commit_id"] + ":" + v.get("key", "")
                           for k, v in cmap.chunks.items() if v),
        "own": len([k for k, v in cmap.chunks.items() if not v]),
        "length": ds[name].meta.length,
    }
d = ds.diff(merge.parent.commit_id, as_dict=True)["tensor"][0][0]
out["diff"] = {k: [list(v["data_added"]), sorted(v["data_updated"]), sorted(v["data_deleted"])]
               for k, v in d.items() if isinstance(v, dict)}
print(json.dumps(out, default=str))
"""

CONTINUE = """
ds = deeplake.load(argv[0])
ds.append({"x": np.arange(5), "img": np.ones((8, 8, 3), np.uint8), "big": np.ones((4, 4), np.uint8),
           "lab": "a"})
ds.x[20] = np.full(5, 20)
ds.img[30] = np.zeros((8, 8, 3), np.uint8)
ds.pop(15)
ds.commit("after")
print(json.dumps(summary(ds)))
"""

READ = """
ds = deeplake.load(argv[0], read_only=True)
print(json.dumps(summary(ds)))
"""


def test_merge_points_at_the_target_chunks_as_deeplake_does(tmp_path: Path, run_dl: Any) -> None:
    history, merge, layout, cont, read = (
        write(tmp_path, n, c)
        for n, c in [("h", HISTORY), ("m", MERGE), ("l", LAYOUT), ("c", CONTINUE), ("r", READ)]
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with_deeplake(run_dl, history, ours)
    shutil.copytree(ours, theirs)
    merged = with_deeplake(run_dl, merge, theirs)
    assert with_shoal(merge, ours) == merged
    want = with_deeplake(run_dl, layout, theirs)
    got = with_deeplake(run_dl, layout, ours)
    assert want["img"]["pointers"] and want["img"]["own"] == 1  # the popped sample, again
    assert want["diff"]["img"][0] == [11, 12]  # only that sample counts as added
    for name in ("x", "img", "big", "lab", "_x_id", "_img_shape"):
        assert got[name] == want[name], name
    assert got["diff"] == want["diff"] and got["log"] == want["log"]
    assert got["summary"] == want["summary"]
    # each continues the other's merge
    continued = with_deeplake(run_dl, cont, ours)
    assert with_shoal(cont, theirs) == continued
    assert with_shoal(read, ours) == continued
    assert with_deeplake(run_dl, read, theirs) == continued


LABELS = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("lab", htype="class_label", class_names=["a", "b"])
ds.create_tensor("x", dtype="int64")
ds.extend({"lab": ["a", "b", "a"], "x": [0, 1, 2]})
ds.commit("c1")
ds.checkout("dev", create=True)
ds.extend({"lab": ["d", "b", "d"], "x": [10, 11, 12]})
ds.lab[0] = "d"
ds.commit("d1")
ds.checkout("main")
ds.extend({"lab": ["c"], "x": [3]})
ds.commit("m1")
print(json.dumps({}))
"""

LABELS_READ = """
ds = deeplake.load(argv[0], read_only=True)
print(json.dumps({"lab": ds.lab.numpy().ravel().tolist(), "names": ds.lab.info.class_names,
                  "x": ds.x.numpy().ravel().tolist(),
                  "text": [ds.lab.info.class_names[i] for i in ds.lab.numpy().ravel().tolist()]}))
"""


def test_merged_class_labels_are_appended_by_name(tmp_path: Path, run_dl: Any) -> None:
    """Neither side's class names extend the other's: deeplake appends (and updates) the
    target's labels by name, so they keep their meaning under the head's names."""
    history, merge, read = (
        write(tmp_path, n, c) for n, c in [("h", LABELS), ("m", MERGE), ("r", LABELS_READ)]
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with_deeplake(run_dl, history, ours)
    shutil.copytree(ours, theirs)
    with_deeplake(run_dl, merge, theirs)
    with_shoal(merge, ours)
    want = with_deeplake(run_dl, read, theirs)
    assert want["text"] == ["d", "b", "a", "c", "d", "b", "d"]
    assert with_deeplake(run_dl, read, ours) == want
    assert with_shoal(read, ours) == want
