"""``ds.pytorch()`` with torch's DataLoader, forked workers included, on local storage and on
s3:// — run under Debian's CPU build of torch (``.ci/setup-torch`` installs python3-torch), in
a subprocess (tests/torch_side.py), since shoal's virtualenv holds no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from tests.servers.s3_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import S3Server

REPO = Path(__file__).resolve().parent.parent
DEBIAN = Path("/usr/lib/python3/dist-packages")
N = 600


def _torch_python() -> str:
    py = os.environ.get("SHOAL_TORCH_PYTHON", "/usr/bin/python3")
    if not (DEBIAN / "torch").is_dir() or not os.access(py, os.X_OK):
        pytest.fail(
            "Debian's python3-torch is missing: run .ci/setup-torch (apt-get install "
            "python3-torch)",
            pytrace=False,
        )
    version = subprocess.run(
        [py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if version != f"{sys.version_info[0]}.{sys.version_info[1]}":
        pytest.fail(f"{py} is Python {version}; shoal's native build needs the same minor version")
    return py


def _fill(ds: shoal.Dataset) -> None:
    ds.create_tensor("images", htype="image", dtype="uint8", max_chunk_size=20_000)
    ds.create_tensor("ids", dtype="int64")
    ids = np.arange(N)
    with ds:
        ds.images.extend(np.repeat((ids % 251).astype(np.uint8), 8 * 8 * 3).reshape(N, 8, 8, 3))
        ds.ids.extend(ids)


def _run(tmp_path: Path, args: dict[str, Any]) -> dict[str, Any]:
    links = tmp_path / "links"
    links.mkdir()
    for name in ("numpy", "torch"):
        (links / name).symlink_to(DEBIAN / name)
    cmd = [
        _torch_python(),
        "-S",
        str(REPO / "tests" / "torch_side.py"),
        str(links),
        str(Path(shoal.__file__).parent.parent),
        sysconfig.get_paths()["purelib"],
        json.dumps(args),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _check(result: dict[str, Any]) -> None:
    assert result["numpy"].startswith("1.")
    for workers in (0, 2):
        e0, e1 = result[f"epoch0_w{workers}"], result[f"epoch1_w{workers}"]
        for epoch in (e0, e1):
            flat = [i for b in epoch for i in b]
            assert sorted(flat) == list(range(N))  # every sample once, workers or not
            assert all(len(b) == 16 for b in epoch[:-2])
        assert e0 != e1  # set_epoch changes the shuffle
    # Same epoch, same seed: the same batches whether workers split them or not.
    assert sorted(map(tuple, result["epoch0_w0"])) == sorted(map(tuple, result["epoch0_w2"]))
    assert sorted(i for b in result["view"] for i in b) == list(range(100, 300))
    # A transform raising in a worker: the caller hears which sample, no worker is left.
    failed = result["transform_error"]
    assert failed["message"] is not None and "sample 137" in failed["message"], failed
    assert failed["workers_left"] == 0
    dl = result["deeplake_style"]
    assert dl["plain_types"] == ["Tensor"]
    assert dl["plain_index"] == [list(range(i, i + 8)) for i in range(0, 40, 8)]
    assert dl["index_shape"] == [8, 1] and dl["keys"] == ["ids", "images", "index"]
    assert dl["workers_pairs_ok"] and dl["workers_all"] == list(range(64))
    assert dl["per_tensor_keys"] == ["ids", "images"]
    assert dl["per_tensor_ids"] == [[1000, 1001, 1002, 1003], [1004, 1005, 1006, 1007]]
    assert dl["collate"] == [4, 4, 2]
    assert dl["pil"] == "LoaderError"


def test_pytorch_dataloader_local(tmp_path: Path) -> None:
    path = str(tmp_path / "ds")
    _fill(shoal.empty(path))
    _check(_run(tmp_path, {"path": path}))


def test_pytorch_dataloader_s3(tmp_path: Path, s3_server: S3Server) -> None:
    path = f"s3://{s3_server.bucket}/torch-{uuid.uuid4().hex[:8]}"
    creds = s3_server.creds()
    _fill(shoal.empty(path, creds=creds))
    _check(_run(tmp_path, {"path": path, "creds": creds}))
