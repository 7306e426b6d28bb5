"""deeplake's options of load, empty, dataset, delete, exists and read: accepted where they
change nothing shoal does, honoured where shoal has their effect (``lock_enabled``,
``large_ok``, ``force``, ``compression``, ``storage``), refused by name otherwise."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import _dataset_admin, errors
from shoal.engine import lock as locks
from shoal.storage import LocalStorage


def _make(path: Path) -> None:
    ds = shoal.empty(str(path), overwrite=True, verbose=False, lock_timeout=0)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(3))
    ds.close()


def test_options_that_change_nothing_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    _make(path)
    ds = shoal.load(
        str(path),
        read_only=True,
        verbose=False,
        memory_cache_size=512,
        local_cache_size=0,
        access_method="stream",
        reset=True,
        check_integrity=True,
        indra=False,
        index_params=None,
    )
    assert ds.x.numpy().ravel().tolist() == [0, 1, 2]
    again = shoal.dataset(str(path), verbose=False, runtime={"tensor_db": False}, public=False)
    assert len(again) == 3
    assert shoal.exists(str(path), org_id=None)
    ds.summary(force=True)
    assert ds.x.data(fetch_chunks=True)["value"].ravel().tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"access_method": "download"}, "access_method='download'.*deepcopy"),
        ({"access_method": "local"}, "access_method='local'"),
        ({"indra": True}, "indra=True"),
        ({"index_params": {"threshold": 1}}, "index_params"),
        ({"unlink": True}, "unlink=True"),
    ],
)
def test_options_shoal_lacks_are_refused_by_name(
    tmp_path: Path, options: dict[str, object], named: str
) -> None:
    path = tmp_path / "ds"
    _make(path)
    with pytest.raises(errors.UnsupportedOptionError, match=named):
        shoal.load(str(path), **options)  # type: ignore[arg-type]
    with pytest.raises(errors.UnsupportedOptionError, match="tensor_db"):
        shoal.empty(str(tmp_path / "new"), runtime={"tensor_db": True})
    assert not shoal.exists(str(tmp_path / "new"))


def test_lock_enabled_false_writes_without_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    _make(path)
    # another live writer on this machine (our parent process) holds main's head lock
    foreign = (
        locks.node_id().to_bytes(6, "little")
        + struct.pack("d", time.time() + 60)
        + os.getppid().to_bytes(4, "little")
    )
    (path / locks.NAME).write_bytes(foreign)
    with pytest.raises(errors.DatasetLockedError):
        shoal.load(str(path)).x.append(3)
    unlocked = shoal.load(str(path), lock_enabled=False)
    unlocked.x.append(3)  # the caller keeps writers apart, as with deeplake's option
    unlocked.commit("while another writer holds the lock")
    unlocked.x.append(4)  # the new head: no lock either, across the commit's switch
    assert unlocked.x.numpy().ravel().tolist() == [0, 1, 2, 3, 4]
    assert (path / locks.NAME).read_bytes() == foreign  # never taken over
    assert not list(path.glob("versions/*/dataset_lock.lock"))
    unlocked.close()


def test_delete_force_and_large_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file").write_bytes(b"not a dataset")
    with pytest.raises(errors.DatasetNotFoundError, match="force=True"):
        shoal.delete(str(tmp_path / "junk"))
    shoal.delete(str(tmp_path / "junk"), force=True)
    assert not (tmp_path / "junk" / "file").exists()
    path = tmp_path / "ds"
    _make(path)
    monkeypatch.setattr(_dataset_admin, "DELETE_SAFETY_SIZE", 10)  # "large": over 10 bytes
    with pytest.raises(errors.ShoalError, match="large_ok=True"):
        shoal.delete(str(path))
    assert shoal.exists(str(path))
    shoal.delete(str(path), large_ok=True, verbose=False)
    assert not shoal.exists(str(path))


def test_read_compression_storage_and_timeout(tmp_path: Path) -> None:
    png = shoal._native.png_encode(np.zeros((4, 5, 3), np.uint8))
    (tmp_path / "noext").write_bytes(png)
    assert shoal.read(str(tmp_path / "noext")).compression == "png"  # its first bytes
    (tmp_path / "blob").write_bytes(b"\x00" * 16)
    assert shoal.read(str(tmp_path / "blob"), compression="PNG").compression == "png"
    store = LocalStorage(tmp_path)
    sample = shoal.read("noext", storage=store, timeout=5)
    assert sample.shape == (4, 5, 3)
    with pytest.raises(errors.SampleError, match="storage provider"):
        shoal.read("noext", storage="not a provider")
