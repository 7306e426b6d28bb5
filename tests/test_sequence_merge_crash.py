"""A merge that brings sequence samples only the target has (its sequence index merged, its
chunks pointed at, edge items written again) is atomic: a writer killed just before or just
after any one of its storage writes leaves a dataset that shoal reads as it was before the
merge or as it is after it (items, sequence index, companions and history together), and so
does deeplake 3.9.52 once shoal has opened it. The writer is forked and killed as in
tests/test_edit_crash.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import shoal
from tests.interop import conftest as _interop
from tests.interop.snippets import PRELUDE
from tests.test_edit_crash import kill_everywhere

deeplake_python = _interop.deeplake_python
deeplake_env = _interop.deeplake_env
run_dl = _interop.run_dl


def make_base(path: Path) -> None:
    """main: c1 (6 samples), m1 (sample 2 popped); dev from c1: d1 (+12 samples). A merge of
    dev brings back sample 2 (a run of its own) and dev's samples (whole chunks and edges)."""
    ds = shoal.empty(str(path))
    ds.create_tensor("g", htype="sequence[generic]", dtype="int64", max_chunk_size=200)
    ds.create_tensor("f", htype="sequence[image]", sample_compression="png")

    def add(start: int, count: int) -> None:
        with ds:
            for i in range(start, start + count):
                n = 1 + i % 4
                ds.g.append([np.full(3, 10 * i + j, np.int64) for j in range(n)])
                ds.f.append([np.full((4, 4, 3), (i + j) % 250, np.uint8) for j in range(n + 1)])

    add(0, 6)
    ds.commit("c1")
    ds.checkout("dev", create=True)
    add(100, 12)
    ds.commit("d1")
    ds.checkout("main")
    ds.pop(2)
    ds.commit("m1")
    ds.close()


def merge(ds: shoal.Dataset) -> None:
    ds.merge("dev")


def summary(ds: shoal.Dataset) -> dict[str, Any]:
    return {
        "g": [[a.tolist() for a in ds.g[i].numpy(aslist=True)] for i in range(len(ds.g))],
        "f": [[a.tolist() for a in ds.f[i].numpy(aslist=True)] for i in range(len(ds.f))],
        "log": [c["message"] for c in ds.commits],
    }


DL_SUMMARIES = """
out = {}
for p in argv:
    try:
        ds = deeplake.load(p, read_only=True)
        out[p] = {n: [[a.tolist() for a in ds[n][i].numpy(aslist=True)] for i in range(len(ds[n]))]
                  for n in ("g", "f")}
        out[p]["log"] = [c["message"] for c in ds.commits]
    except Exception as e:
        out[p] = {"error": repr(e)}
print(json.dumps(out))
"""


def test_kill_at_every_write_of_a_sequence_merge(tmp_path: Path, run_dl: Any) -> None:
    kills = kill_everywhere(tmp_path, make_base, merge, summary)
    before, after = kills.before, kills.after
    assert len(after["g"]) == len(before["g"]) + 13 and after["log"][0].startswith("Merge ")
    checked = []
    for case in kills.around_commit():
        for lock in case.path.rglob("dataset_lock.lock"):
            lock.unlink()  # a killed writer's lock: deeplake would wait for it to expire
        checked.append((case.path, case.want))
    script = tmp_path / "dl.py"
    script.write_text(PRELUDE + DL_SUMMARIES)
    proc = run_dl("exec", script, *[p for p, _ in checked])
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    for path, want in checked:
        assert seen[str(path)] == want, path
