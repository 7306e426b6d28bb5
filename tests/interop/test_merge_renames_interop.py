"""Merging branches where tensors were renamed, as deeplake 3.9.52 does: the target's
rename is made here too and the tensors merge as one; renames that clash (renamed otherwise
here, deleted here, or onto a tensor this branch has) are a MergeConflictError, or with
``force=True`` the target's tensor is added (or merged by sample ids). Each scenario is run
by both libraries on the same history; deeplake reads and continues shoal's merges."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.interop.snippets import with_deeplake, with_shoal, write

HISTORY = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("x", dtype="int64")
ds.create_tensor("t", htype="text")
ds.extend({"x": [0, 1, 2], "t": ["a", "b", "c"]})
ds.commit("c1")
ds.checkout("dev", create=True)
case = argv[1]
if case == "both-same":
    ds.rename_tensor("x", "y")
    ds.extend({"y": [5], "t": ["e"]})
elif case != "none":
    ds.rename_tensor("x", "y")
if case == "appended":
    ds.extend({"y": [10], "t": ["d"]})
    ds.y[0] = 100
ds.commit("d1")
ds.checkout("main")
if case == "appended":
    ds.extend({"x": [3], "t": ["m"]})
    ds.x[1] = 11
elif case in ("renamed-otherwise", "renamed-otherwise-force"):
    ds.rename_tensor("x", "z")
elif case == "both-same":
    ds.rename_tensor("x", "y")
elif case in ("name-taken", "name-taken-force"):
    ds.create_tensor("y", dtype="int64")
    ds.y.extend([7, 7, 7])
elif case == "deleted":
    ds.delete_tensor("x")
ds.commit("m1", allow_empty=True)
print(json.dumps({}))
"""

MERGE = """
ds = deeplake.load(argv[0])
try:
    ds.merge("dev", force=argv[1].endswith("force"))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "force": "force=True" in str(e)}))
else:
    print(json.dumps({"summary": summary(ds), "commit": ds.commit_id is not None}))
"""

CONTINUE = """
ds = deeplake.load(argv[0])
name = "y" if "y" in ds.tensors else "x"
ds[name].append(42)
ds.t.append("z")
ds.commit("after")
print(json.dumps(summary(ds)))
"""

RENAMES = """
ds = deeplake.load(argv[0], read_only=True)
merge = ds.version_state["commit_node"].parent
d = ds.diff(merge.parent.commit_id, as_dict=True)["dataset"][0]
print(json.dumps([{"renamed": c["renamed"], "deleted": c["deleted"]} for c in d]))
"""

CASES = [
    "appended",
    "renamed-otherwise",
    "renamed-otherwise-force",
    "both-same",
    "name-taken",
    "name-taken-force",
    "deleted",
]


@pytest.mark.parametrize("case", CASES)
def test_renamed_tensors_merge_as_deeplake_merges_them(
    tmp_path: Path, run_dl: Any, case: str
) -> None:
    history, merge, cont = (
        write(tmp_path, n, c) for n, c in [("h", HISTORY), ("m", MERGE), ("c", CONTINUE)]
    )
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with_deeplake(run_dl, history, ours, case)
    shutil.copytree(ours, theirs)
    want = with_deeplake(run_dl, merge, theirs, case)
    assert with_shoal(merge, ours, case) == want
    if "error" in want:
        assert want == {"error": "MergeConflictError", "force": True}
        return
    renames = write(tmp_path, "d", RENAMES)
    assert with_deeplake(run_dl, renames, ours) == with_deeplake(run_dl, renames, theirs)
    if case == "appended":
        assert want["summary"] == {
            "t": ["a", "b", "c", "m", "d"],
            "y": [[100], [11], [2], [3], [10]],
        }
    if case == "renamed-otherwise-force":
        # the added y keeps its meta's links to its companions' keys, which the head's z
        # (the same tensor key, renamed) also uses: deeplake cannot append to its own merge
        # of this case either, so neither is continued
        return
    continued = with_deeplake(run_dl, cont, ours)  # deeplake continues shoal's merge
    assert with_shoal(cont, theirs) == continued
