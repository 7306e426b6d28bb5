"""A commit and a merge are atomic: a writer killed just before or just after each of their
storage writes leaves a dataset that shoal and deeplake 3.9.52 open as it was before the
operation or as it is after, never between (tests/crash_writer.py does the killing; see
tests/test_crash_safety.py for appends). deeplake knows nothing of the flush journal: before
shoal has opened a dataset killed half way through writing a merge's objects, it may see
the merged samples without the merge commit (the journal's documented limit)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shoal
from shoal.engine import journal
from tests.crash_writer import append
from tests.interop import conftest as _interop
from tests.test_crash_safety import run_writer

deeplake_python = _interop.deeplake_python
deeplake_env = _interop.deeplake_env
run_dl = _interop.run_dl

N = 20  # samples per block


def make_base(path: Path, pop: int | None = None) -> dict[str, Any]:
    """main: c1 (N samples), m1 (+N); dev from c1: d1 (+N); main's head has N more, uncommitted.
    With ``pop``, main pops that sample before committing m1: a merge of dev then brings it
    back, written again at the end (an edge of a chunk it shares with samples main has), while
    dev's own samples are pointed at. Returns what main looks like now."""
    ds = shoal.empty(str(path))
    ds.create_tensor("x", dtype="int64", max_chunk_size=400)
    ds.create_tensor("images", dtype="uint8")
    append(ds, 0, N)
    ds.commit("c1")
    ds.checkout("dev", create=True)
    append(ds, 1000, N)
    ds.commit("d1")
    ds.checkout("main")
    append(ds, N, N)
    if pop is not None:
        ds.pop(pop)
    ds.commit("m1")
    append(ds, 2 * N, N)
    ds.close()
    x = [i for i in range(3 * N) if i != pop]
    return {"x": x, "commits": ["m1", "c1"], "branches": ["dev", "main"]}


def state(path: Path, read_only: bool) -> dict[str, Any]:
    ds = shoal.load(str(path), read_only=read_only)
    out = {
        "x": ds.x.numpy().ravel().tolist(),
        "commits": [c["message"] for c in ds.commits],
        "branches": sorted(ds.branches),
    }
    assert len(ds.images) == len(out["x"])
    ds.close()
    return out


def sweep(
    tmp: Path,
    run_dl: Any,
    op: str,
    after_of: Callable[[Path], dict[str, Any]],
    pop: int | None = None,
) -> None:
    """Kill the writer of ``op`` around each of its writes; ``after_of(base)``: main after it."""
    base = tmp / "base"
    before = make_base(base, pop)
    after = after_of(base)
    shutil.copytree(base, tmp / "count")
    (counted,) = run_writer([{"url": str(tmp / "count"), "op": op, "kill_at": None}])
    assert counted["status"] == 0, counted
    writes = counted["writes"]
    assert writes.count(journal.KEY) == 2, writes
    assert state(tmp / "count", True) == after
    # "after" each write: exactly the first k writes done; "before" (the writes in flight
    # when it dies may or may not land) at every third, to keep the sweep short
    n = len(writes)
    cases = [("after", k) for k in range(1, n + 1)] + [("before", k) for k in range(1, n + 1, 3)]
    names = [f"{w}{k}" for w, k in cases]
    for name in names:
        shutil.copytree(base, tmp / name)
    jobs = [
        {"url": str(tmp / n), "op": op, "kill_at": k, "when": w}
        for n, (w, k) in zip(names, cases, strict=True)
    ]
    results = run_writer(jobs)
    raw = []
    outcomes = []
    for name, result in zip(names, results, strict=True):
        assert result["status"] == 9, (name, result)
        raw.append(tmp / "raw" / name)
        shutil.copytree(tmp / name, raw[-1])
        # read-only (the journal is served, nothing written), then for writing (recovered)
        seen = state(tmp / name, True)
        assert seen in (before, after), name
        assert state(tmp / name, False) == seen, name
        assert not (tmp / name / journal.KEY).exists(), name
        outcomes.append(seen == after)
        for path in (tmp / name, raw[-1]):
            # a killed writer's lock: deeplake would wait for it to expire (five minutes)
            for lock in path.rglob("dataset_lock.lock"):
                lock.unlink()
    assert any(outcomes) and not all(outcomes)  # the sweep saw both sides of the commit point
    out = tmp / f"dl-{uuid.uuid4().hex[:6]}.json"
    run_dl("vc-summary", out, *[tmp / n for n in names], *raw)
    seen_by_dl = json.loads(out.read_text())
    for name, path in zip(names, raw, strict=True):
        recovered = seen_by_dl[str(tmp / name)]
        assert recovered["ok"], (name, recovered)
        assert {k: recovered[k] for k in before} in (before, after), name
        unrecovered = seen_by_dl[str(path)]
        if not (path / journal.KEY).is_file():
            assert unrecovered["ok"], (name, unrecovered)
            assert {k: unrecovered[k] for k in before} in (before, after), name
        elif unrecovered["ok"]:
            # deeplake knows nothing of the journal: until shoal opens the dataset, it may see
            # the samples of one side and the history of the other, never anything else
            assert unrecovered["x"] in (before["x"], after["x"]), name
            assert unrecovered["commits"] in (before["commits"], after["commits"]), name
            assert unrecovered["branches"] in (before["branches"], after["branches"]), name


def test_kill_at_every_write_of_a_commit(tmp_path: Path, run_dl: Any) -> None:
    def after(_: Path) -> dict[str, Any]:
        return {
            "x": list(range(3 * N)),
            "commits": ["crash commit", "m1", "c1"],
            "branches": ["dev", "main"],
        }

    sweep(tmp_path, run_dl, "commit", after)


def test_kill_at_every_write_of_a_merge(tmp_path: Path, run_dl: Any) -> None:
    def after(base: Path) -> dict[str, Any]:
        d1 = shoal.load(str(base) + "@dev", read_only=True).commit_id
        x = list(range(3 * N)) + list(range(1000, 1000 + N))
        return {
            "x": x,
            "commits": [f"Merge {d1} into main", "m1", "c1"],
            "branches": ["dev", "main"],
        }

    sweep(tmp_path, run_dl, "merge", after)


def test_kill_at_every_write_of_a_merge_that_writes_edge_samples(
    tmp_path: Path, run_dl: Any
) -> None:
    def after(base: Path) -> dict[str, Any]:
        d1 = shoal.load(str(base) + "@dev", read_only=True).commit_id
        x = [i for i in range(3 * N) if i != 3] + [3] + list(range(1000, 1000 + N))
        return {
            "x": x,
            "commits": [f"Merge {d1} into main", "m1", "c1"],
            "branches": ["dev", "main"],
        }

    sweep(tmp_path, run_dl, "merge", after, pop=3)


def test_kill_at_every_write_of_a_new_branch(tmp_path: Path, run_dl: Any) -> None:
    """checkout("feature", create=True) with changes on the head: they are committed, and the
    branch starts from that commit (main's state is what the sweep compares)."""

    def after(_: Path) -> dict[str, Any]:
        return {
            "x": list(range(3 * N)),
            "commits": ["auto commit before checkout to feature", "m1", "c1"],
            "branches": ["dev", "feature", "main"],
        }

    sweep(tmp_path, run_dl, "branch", after)


def test_kill_at_every_write_of_a_reset(tmp_path: Path, run_dl: Any) -> None:
    """reset() drops main's uncommitted block: a new empty head replaces the old one."""

    def after(_: Path) -> dict[str, Any]:
        return {"x": list(range(2 * N)), "commits": ["m1", "c1"], "branches": ["dev", "main"]}

    sweep(tmp_path, run_dl, "reset", after)
