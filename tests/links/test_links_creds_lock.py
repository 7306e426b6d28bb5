"""linked_creds.json is read, merged and written under deeplake's ``linked_creds.lock`` (its
10 s lock records, waited for up to 10 s), so writers adding keys at once keep each other's."""

from __future__ import annotations

import json
import struct
import threading
import time
import uuid
from pathlib import Path

import pytest

import shoal
from shoal.errors import DatasetLockedError
from shoal.links import resolve


def _other_writers_lock(path: Path, seconds: float) -> None:
    """The record another machine's deeplake writes: node, expiry, pid."""
    node = (uuid.getnode() + 1) % (1 << 48)
    record = node.to_bytes(6, "little") + struct.pack("d", time.time() + seconds)
    (path / "linked_creds.lock").write_bytes(record + (4321).to_bytes(4, "little"))


def _keys(path: Path) -> list[str]:
    return list(json.loads((path / "linked_creds.json").read_text())["creds_keys"])


def test_keys_are_saved_under_deeplakes_lock(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    ds = shoal.empty(str(path))
    ds.create_tensor("im", htype="link[image]", sample_compression="png")
    ds.add_creds_key("a")
    assert not (path / "linked_creds.lock").exists()  # released after the save
    first, second = shoal.load(str(path)), shoal.load(str(path))
    assert first.get_creds_keys() == second.get_creds_keys() == ["a"]

    # another writer holds the lock for a moment: the save waits for it, then merges
    _other_writers_lock(path, 1.0)
    t0 = time.monotonic()
    done = threading.Event()
    threading.Thread(target=lambda: (second.add_creds_key("c"), done.set())).start()
    assert done.wait(20)
    assert time.monotonic() - t0 >= 0.9
    first.add_creds_key("b")  # its view (["a"]) is stale: merged with what is stored
    assert _keys(path) == ["a", "c", "b"]
    assert shoal.load(str(path)).get_creds_keys() == ["a", "c", "b"]
    assert not (path / "linked_creds.lock").exists()


def test_a_held_lock_fails_the_save_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ds"
    ds = shoal.empty(str(path))
    ds.create_tensor("im", htype="link[image]", sample_compression="png")
    ds.add_creds_key("a")
    monkeypatch.setattr(resolve, "LOCK_WAIT", 0.3)  # deeplake waits 10 s
    _other_writers_lock(path, 60.0)
    with pytest.raises(DatasetLockedError, match=r"linked_creds\.lock"):
        ds.add_creds_key("b")
    assert _keys(path) == ["a"]
    assert (path / "linked_creds.lock").exists()  # the other writer's, left alone
