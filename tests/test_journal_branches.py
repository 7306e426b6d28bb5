"""Writers of different branches flush at the same time (each holds its own head's lock), so
each branch has its own flush journal: a writer killed half way through a flush on one branch
is completed later, whatever writers of other branches did meanwhile. A history change (a
commit) killed half way on one branch is completed by the next history change on any branch,
before that one stores the version info: otherwise the killed one's journal would be stale,
and its branch left half written. Both are read by deeplake 3.9.52 afterwards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

import shoal
from shoal.engine import journal
from tests.crash_writer import append, images
from tests.interop import conftest as _interop
from tests.test_crash_safety import run_writer

deeplake_python = _interop.deeplake_python
deeplake_env = _interop.deeplake_env
run_dl = _interop.run_dl

N = 20


def _base(path: Path) -> None:
    """main: c1 (samples 0..N-1); dev from c1: d1 (+ samples 1000..)."""
    ds = shoal.empty(str(path))
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("images", dtype="uint8")
    append(ds, 0, N)
    ds.commit("c1")
    ds.checkout("dev", create=True)
    append(ds, 1000, N)
    ds.commit("d1")
    ds.checkout("main")
    ds.close()


def _kill_mid_flush(tmp: Path, path: Path, job: dict[str, Any]) -> None:
    """Run ``job`` on a copy to count its writes, then on ``path`` killed just after its
    journal and the first object the journal names are stored."""
    count = tmp / "count"
    shutil.copytree(path, count)
    (counted,) = run_writer([{**job, "url": str(count), "kill_at": None}])
    assert counted["status"] == 0, counted
    writes = counted["writes"]
    key = journal.key_for(job.get("branch"))
    assert (key in writes and journal.KEY not in writes) or key == journal.KEY, writes
    kill_at = writes.index(key) + 2
    (killed,) = run_writer([{**job, "url": str(path), "kill_at": kill_at, "when": "after"}])
    assert killed["status"] == 9, killed
    assert (path / key).is_file()


def _state(path: Path, branch: str) -> dict[str, Any]:
    ds = shoal.load(str(path), read_only=True)
    ds.checkout(branch)
    x = ds.x.numpy().ravel().tolist()
    got = ds.images.numpy()
    np.testing.assert_array_equal(
        got, images(0, 0) if not x else np.stack([images(i, i + 1)[0] for i in x])
    )
    out = {"x": x, "commits": [c["message"] for c in ds.commits]}
    ds.close()
    return out


def test_a_flush_killed_on_one_branch_survives_another_branchs_flushes(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    _base(path)
    dev = shoal.load(str(path))
    dev.checkout("dev")  # a writer of dev, open while main's writer is killed
    _kill_mid_flush(
        tmp_path, path, {"op": "append", "start": N, "count": N}
    )  # main's writer: half its flush stored
    append(dev, 2000, N)  # dev flushes twice and commits: main's journal is not dev's to touch
    append(dev, 3000, N)
    dev.commit("d2")
    dev.close()
    assert (path / journal.KEY).is_file()
    assert not (path / journal.key_for("dev")).exists()
    main = _state(path, "main")
    assert main["x"] == list(range(2 * N)) and main["commits"] == ["c1"]
    shoal.load(str(path)).close()  # opened for writing: main's flush is completed
    assert not (path / journal.KEY).exists()
    assert _state(path, "main") == main
    dev_now = _state(path, "dev")
    assert dev_now["x"] == [
        *range(N),
        *range(1000, 1000 + N),
        *range(2000, 2000 + N),
        *range(3000, 3000 + N),
    ]
    assert dev_now["commits"] == ["d2", "d1", "c1"]


def test_a_commit_killed_on_one_branch_is_completed_by_the_next_history_change(
    tmp_path: Path, run_dl: Any
) -> None:
    path = tmp_path / "ds"
    _base(path)
    dev = shoal.load(str(path))
    dev.checkout("dev")
    append(dev, 2000, N)  # staged and flushed: the killed commit has samples of its own
    dev.close()
    _kill_mid_flush(tmp_path, path, {"op": "commit", "branch": "dev"})
    dev_key = journal.key_for("dev")
    main = shoal.load(str(path))  # main's open reads main's journal only
    assert (path / dev_key).is_file()
    append(main, N, N)
    main.commit("m1")  # completes dev's commit first, then stores its own
    main.close()
    dev_now = _state(path, "dev")
    assert dev_now["x"] == [*range(N), *range(1000, 1000 + N), *range(2000, 2000 + N)]
    assert dev_now["commits"] == ["crash commit", "d1", "c1"]
    assert not (path / dev_key).exists()
    assert _state(path, "main") == {"x": list(range(2 * N)), "commits": ["m1", "c1"]}
    for lock in path.rglob("dataset_lock.lock"):
        lock.unlink()  # the killed writer's: deeplake would wait five minutes for it
    out = tmp_path / "dl.json"
    run_dl("vc-summary", out, path)
    seen = json.loads(out.read_text())[str(path)]
    assert seen["ok"], seen
    assert seen["x"] == list(range(2 * N)) and seen["commits"] == ["m1", "c1"], seen
