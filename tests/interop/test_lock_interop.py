"""Two writers, shoal and deeplake 3.9.52 in any mix, never interleave: each honours the
other's ``dataset_lock.lock``. shoal's refusal names the holder and the lock's age and
changes nothing; with ``lock_timeout`` it waits for the holder to finish."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.interop.conftest import DL_SIDE
from tests.test_versions import snapshot

import shoal
from shoal import errors

pytestmark = pytest.mark.interop


def make(path: Path) -> None:
    ds = shoal.empty(str(path))
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(5).reshape(5, 1))
    ds.close()


def hold_with_deeplake(deeplake_python: str, deeplake_env: dict[str, str], path: Path) -> Any:
    proc = subprocess.Popen(
        [deeplake_python, str(DL_SIDE), "hold", str(path)],
        env=deeplake_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    assert json.loads(line) == {"read_only": False}
    return proc


def finish(proc: Any) -> str:
    """Let deeplake finish (it appends -1 and exits); its stderr."""
    if not proc.stdin.closed:
        proc.stdin.close()
    proc.wait(timeout=120)
    proc.stdout.close()
    err: str = proc.stderr.read()
    proc.stderr.close()
    return err


def test_deeplake_holds_shoal_refuses_then_waits(deeplake_python, deeplake_env, tmp_path) -> None:
    path = tmp_path / "ds"
    make(path)
    proc = hold_with_deeplake(deeplake_python, deeplake_env, path)
    try:
        assert (path / "dataset_lock.lock").stat().st_size == 18
        before = snapshot(path)
        ds = shoal.load(str(path))
        with pytest.raises(errors.DatasetLockedError) as info:
            ds.x.append([9])
        message = str(info.value)
        assert f"process {proc.pid} on this machine" in message
        assert "s ago" in message and "read_only=True" in message
        assert info.value.holder == f"process {proc.pid} on this machine"
        assert 0 <= info.value.age < 60 and info.value.expires_in > 200
        start = time.monotonic()
        waiting = shoal.load(str(path), lock_timeout=1.5)
        with pytest.raises(errors.DatasetLockedError):
            waiting.x.append([9])
        assert time.monotonic() - start >= 1.5
        # nor is the dataset replaced or deleted from under deeplake
        with pytest.raises(errors.DatasetLockedError):
            shoal.empty(str(path), overwrite=True)
        with pytest.raises(errors.DatasetLockedError):
            shoal.delete(str(path))
        assert snapshot(path) == before  # nothing written by the refused writers
        # a writer told to wait gets the lock once deeplake is done, and sees that deeplake
        # appended since it read the dataset: it refuses to write over that
        patient = shoal.load(str(path), lock_timeout=None)
        threading.Timer(1.0, lambda: proc.stdin.close()).start()
        start = time.monotonic()
        with pytest.raises(errors.DatasetChangedError, match="open the dataset again"):
            patient.x.append([9])
        assert time.monotonic() - start >= 1.0
    finally:
        err = finish(proc)
    assert proc.returncode == 0, err
    assert not (path / "dataset_lock.lock").exists()  # released: the refusal keeps no lock
    again = shoal.load(str(path))
    again.x.append([9])
    assert shoal.load(str(path), read_only=True).x.numpy().ravel().tolist() == [
        0,
        1,
        2,
        3,
        4,
        -1,
        9,
    ]


def test_shoal_holds_deeplake_is_read_only(run_dl, tmp_path) -> None:
    path = tmp_path / "ds"
    make(path)
    ds = shoal.load(str(path))
    ds.x.append([5])
    lock = (path / "dataset_lock.lock").read_bytes()
    assert len(lock) == 18 and int.from_bytes(lock[14:], "little") == os.getpid()
    proc = run_dl("try-append", path)
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {
        "refused": "LockedException",
        "read_only": True,
        "appended": False,
        "error": "ReadOnlyModeError",
    }
    ds.close()
    assert not (path / "dataset_lock.lock").exists()
    proc = run_dl("try-append", path)
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"refused": None, "read_only": False, "appended": True, "error": None}
    assert shoal.load(str(path)).x.numpy().ravel().tolist() == [0, 1, 2, 3, 4, 5, -2]


def test_lock_follows_the_head(tmp_path) -> None:
    """After a commit the lock is the new head's (deeplake's path for it); a stale lock of a
    dead process on this machine is taken over at once."""
    path = tmp_path / "ds"
    make(path)
    ds = shoal.load(str(path))
    ds.commit("one")
    ds.x.append([5])
    head = ds.pending_commit_id
    assert (path / "versions" / head / "dataset_lock.lock").is_file()
    assert not (path / "dataset_lock.lock").exists()
    ds.close()
    dead = subprocess.Popen(["true"])
    dead.wait()
    record = path / "versions" / head / "dataset_lock.lock"
    # what a killed writer leaves: its record, valid for minutes, naming a pid now gone
    from shoal.engine import lock as locks

    record.write_bytes(locks.record()[:14] + dead.pid.to_bytes(4, "little"))
    ds = shoal.load(str(path))
    ds.x.append([6])
    assert locks.Holder.parse(record.read_bytes()).mine  # type: ignore[union-attr]


def test_writers_on_two_branches_keep_each_others_commits(run_dl, tmp_path) -> None:
    """shoal holds main while deeplake commits on dev: shoal's next commit merges the history
    it stores with deeplake's (under version_control_info.lock), losing nothing."""
    from tests.interop.test_versions_interop import _dl_run

    path = tmp_path / "ds"
    make(path)
    ds = shoal.load(str(path))
    ds.commit("c1")
    ds.checkout("dev", create=True)
    ds.checkout("main")
    ds.x.append([5])  # shoal now holds main's head
    # deeplake opens dev directly: opening main for writing would find shoal's lock
    steps = [["load"], ["append", {"x": [7]}], ["commit", "on dev"], ["close"]]
    _dl_run(run_dl, str(path) + "@dev", steps, {})
    ds.commit("on main")  # its history in memory predates deeplake's commit
    assert [c["message"] for c in ds.commits] == ["on main", "c1"]
    dev = shoal.load(str(path) + "@dev", read_only=True)
    assert [c["message"] for c in dev.commits] == ["on dev", "c1"]
    assert [a.tolist() for a in dev.x.numpy(aslist=True)][-2:] == [[4], [7, 70]]
    ds.close()
    run_dl("vc-summary", tmp_path / "s.json", path)
    summary = json.loads((tmp_path / "s.json").read_text())[str(path)]
    assert summary["ok"] and summary["commits"] == ["on main", "c1"]
    assert summary["branches"] == ["dev", "main"]


def test_a_commit_locks_the_new_head_at_once(run_dl, tmp_path) -> None:
    """The new head's lock is stored with its objects, before the history names it: a
    deeplake writer opening the branch right after the commit finds it locked, though shoal
    has not written to the new head yet."""
    path = tmp_path / "ds"
    make(path)
    ds = shoal.load(str(path))
    ds.x.append([5])
    ds.commit("one")
    head = ds.pending_commit_id
    record = path / "versions" / head / "dataset_lock.lock"
    lock = record.read_bytes()
    assert len(lock) == 18 and int.from_bytes(lock[14:], "little") == os.getpid()
    assert not (path / "dataset_lock.lock").exists()  # the committed head's is released
    assert not (path / "version_control_info.lock").exists()
    proc = run_dl("try-append", path)
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["refused"] == "LockedException" and not seen["appended"]
    ds.x.append([6])  # held already: no verify wait, no check that nobody wrote
    assert record.read_bytes()[14:] == lock[14:]
    ds.close()
    assert not record.exists()
    assert shoal.load(str(path), read_only=True).x.numpy().ravel().tolist() == [0, 1, 2, 3, 4, 5, 6]
