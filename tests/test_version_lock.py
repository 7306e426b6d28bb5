"""The lock around version_control_info.json on local disk: taken by an exclusive create,
without deeplake's verify wait; a live holder is waited for, and a record written over ours
(a deeplake writer that read the lock as free just before our create) makes us wait for
that writer and merge the history again."""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path

import numpy as np

import shoal
from shoal.engine import lock as locks
from shoal.engine import version_lock, versions
from shoal.storage import LocalStorage

VC_LOCK = "version_control_info.lock"


def _make(path: Path) -> shoal.Dataset:
    ds = shoal.empty(str(path))
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(5).reshape(5, 1))
    return ds


def _foreign_record(seconds: float) -> bytes:
    """A lock record of another live process on this machine (our parent), as deeplake
    writes it: node, expiry, pid."""
    return (
        locks.node_id().to_bytes(6, "little")
        + struct.pack("d", time.time() + seconds)
        + os.getppid().to_bytes(4, "little")
    )


def test_commit_takes_the_version_lock_by_exclusive_create(tmp_path, monkeypatch) -> None:
    created: list[tuple[str, bool | None]] = []
    real = LocalStorage.put_if_absent

    async def spy(self: LocalStorage, key: str, data: bytes) -> bool | None:
        done = await real(self, key, data)
        created.append((key, done))
        if key == VC_LOCK:
            assert locks.Holder.parse((tmp_path / "ds" / VC_LOCK).read_bytes()).mine  # type: ignore[union-attr]
        return done

    monkeypatch.setattr(LocalStorage, "put_if_absent", spy)
    ds = _make(tmp_path / "ds")
    first = ds.commit("one")
    ds.x.append([5])
    ds.commit("two")
    assert created == [(VC_LOCK, True), (VC_LOCK, True)]
    assert not (tmp_path / "ds" / VC_LOCK).exists()
    assert [c["message"] for c in ds.commits] == ["two", "one"]
    ds.checkout(first)
    assert len(ds.x) == 5


def test_a_live_holder_of_the_version_lock_is_waited_for(tmp_path) -> None:
    ds = _make(tmp_path / "ds")
    vc = tmp_path / "ds" / "version_control_info.json"
    (tmp_path / "ds" / VC_LOCK).write_bytes(_foreign_record(20))
    before = vc.read_bytes()
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(ds.commit("one")))
    worker.start()
    time.sleep(0.5)
    assert worker.is_alive() and vc.read_bytes() == before  # nothing written under its lock
    (tmp_path / "ds" / VC_LOCK).unlink()  # the holder is done
    worker.join(30)
    assert done and not (tmp_path / "ds" / VC_LOCK).exists()
    assert [c["message"] for c in shoal.load(str(tmp_path / "ds"), read_only=True).commits] == [
        "one"
    ]


def test_a_record_written_over_ours_is_waited_for(tmp_path, monkeypatch) -> None:
    """A writer that read the lock as free just before our create writes its record over
    ours and goes on after its verify wait: we look again before our writes (the window is
    set to nothing here, so we always look), find it, and write nothing until it is done."""
    monkeypatch.setattr(version_lock, "VERIFY_LOCAL", 0.0)
    path = tmp_path / "ds"
    ds = _make(path)
    ds.commit("one")
    ds.x.append([5])
    vc = path / "version_control_info.json"
    before = vc.read_bytes()
    real = LocalStorage.put_if_absent
    seen: list[bytes] = []

    def holder_done() -> None:
        time.sleep(0.5)
        seen.append(vc.read_bytes())  # nothing written while it held the lock
        (path / VC_LOCK).unlink()

    async def lands_over_ours(self: LocalStorage, key: str, data: bytes) -> bool | None:
        done = await real(self, key, data)
        if key == VC_LOCK and not seen:
            (path / VC_LOCK).write_bytes(_foreign_record(20))
            threading.Thread(target=holder_done).start()
        return done

    monkeypatch.setattr(LocalStorage, "put_if_absent", lands_over_ours)
    ds.commit("two")
    assert seen == [before]
    assert [c["message"] for c in shoal.load(str(path), read_only=True).commits] == ["two", "one"]
    assert not (path / VC_LOCK).exists()


def test_a_history_stored_over_ours_meanwhile_is_merged_again(tmp_path, monkeypatch) -> None:
    """Our writes outlast the window (set to nothing here) and our record was replaced: the
    other writer may have read the history before ours landed and stored its merge without
    our commit. Once it is done, the history is merged again: nothing is lost."""
    monkeypatch.setattr(version_lock, "VERIFY_LOCAL", 0.0)
    path = tmp_path / "ds"
    ds = _make(path)
    ds.commit("one")
    ds.x.append([5])
    vc = path / "version_control_info.json"
    before = vc.read_bytes()
    real_commit = versions.journal.commit
    raced: list[bool] = []

    def other_writer() -> None:
        time.sleep(0.3)
        vc.write_bytes(before)  # its merge, made from what it read before ours landed
        (path / VC_LOCK).unlink()

    async def then_raced(*args, **kwargs):  # type: ignore[no-untyped-def]
        await real_commit(*args, **kwargs)
        if not raced:
            raced.append(True)
            (path / VC_LOCK).write_bytes(_foreign_record(20))
            threading.Thread(target=other_writer).start()

    monkeypatch.setattr(versions.journal, "commit", then_raced)
    head = ds.commit("two")
    assert raced
    again = shoal.load(str(path), read_only=True)
    assert [c["message"] for c in again.commits] == ["two", "one"]
    assert again.commits[0]["commit"] == head
    assert len(shoal.load(str(path)).x) == 6
    assert not (path / VC_LOCK).exists()
