"""Interop harness: shoal (this process, numpy 2) against the real deeplake 3.9.52.

deeplake lives in its own venv (``.ci/setup-deeplake-venv``) because it needs numpy<2; it is only
ever driven through ``dl_side.py`` in a subprocess. Data crosses the boundary as datasets on disk
and as portable pickles (plain python + bytes, see ``dl_side.dump``).
"""

from __future__ import annotations

import os
import pickle
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DL_SIDE = HERE / "dl_side.py"
DEFAULT_DL_PYTHON = REPO / ".venvs" / "deeplake" / "bin" / "python"
DL_TIMEOUT = float(os.environ.get("SHOAL_DEEPLAKE_TIMEOUT", "180"))

# Environment variables that steer deeplake (or the python running it) and must not leak in
# from the shoal test process.
_SCRUB = (
    "ACTIVELOOP_TOKEN",
    "ACTIVELOOP_AUTH_PROVIDER",
    "DEEPLAKE_USE_INDRA",
    "HUB_DEFAULT_READONLY",
    "LOCAL_CACHE_PREFIX",
    "DEEPLAKE_DOWNLOAD_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
    "PYTHONWARNINGS",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.interop)


# --------------------------------------------------------------------------------------------
# the deeplake venv and how to run it


@pytest.fixture(scope="session")
def deeplake_python() -> str:
    py = os.environ.get("SHOAL_DEEPLAKE_PYTHON") or str(DEFAULT_DL_PYTHON)
    if not (os.path.isfile(py) and os.access(py, os.X_OK)):
        pytest.fail(
            f"no deeplake 3.9.52 python at {py}: run .ci/setup-deeplake-venv "
            "(or set SHOAL_DEEPLAKE_PYTHON)",
            pytrace=False,
        )
    return py


@pytest.fixture(scope="session")
def deeplake_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Quiet and offline: a private HOME for deeplake, no telemetry, no credentials.

    dl_side.py enforces the same itself (fresh ~/.activeloop/pypi_version.json so the import-time
    version check never asks pypi.org, reporting consent off, and a socket guard refusing anything
    but loopback); this just makes it explicit and keeps shoal's environment out.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    home = tmp_path_factory.mktemp("deeplake-home")
    env.update(
        {
            "SHOAL_DEEPLAKE_HOME": str(home),
            "HOME": str(home),
            "BUGGER_OFF": "yes",  # humbug (crash/usage reports to bugout) opt-out
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            "NO_PROXY": "*",
        }
    )
    return env


RunDl = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session")
def run_dl(deeplake_python: str, deeplake_env: dict[str, str]) -> RunDl:
    """``run_dl("dump", path, out, "--branch", "dev")``: run dl_side.py, fail with its stderr."""

    def run(*args: Any, timeout: float = DL_TIMEOUT) -> subprocess.CompletedProcess[str]:
        cmd = [deeplake_python, str(DL_SIDE), *map(str, args)]
        try:
            proc = subprocess.run(
                cmd,
                env=deeplake_env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise AssertionError(
                f"deeplake side timed out after {timeout}s: {' '.join(cmd[1:])}\n"
                f"--- stderr ---\n{e.stderr or ''}"
            ) from None
        if proc.returncode != 0:
            raise AssertionError(
                f"deeplake side failed (exit {proc.returncode}): {' '.join(cmd[1:])}\n"
                f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-8000:]}"
            )
        return proc

    return run


# --------------------------------------------------------------------------------------------
# dumps


def decode_sample(rec: Any) -> Any:
    kind = rec[0]
    if kind == "array":
        _, dtype, shape, raw = rec
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(tuple(shape)).copy()
    if kind in ("text", "json"):
        return rec[1]
    raise ValueError(f"unknown sample record kind {kind!r}")


def _load_dump(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``dl_side.py dump`` pickle; samples come back as numpy arrays / str / objects.

    Each tensor entry gains ``kind`` ("array", "text" or "json"); shapes become tuples.
    """
    with open(path, "rb") as f:
        d = pickle.load(f)
    for t in d["tensors"].values():
        recs = t["samples"]
        kinds = {r[0] for r in recs}
        assert len(kinds) <= 1, f"mixed sample kinds {kinds}"
        t["kind"] = kinds.pop() if kinds else None
        t["samples"] = [decode_sample(r) for r in recs]
        for k in ("shape", "min_shape", "max_shape"):
            if t.get(k) is not None:
                t[k] = tuple(t[k])
    return d


@pytest.fixture(scope="session")
def load_dump() -> Callable[[str | os.PathLike[str]], dict[str, Any]]:
    return _load_dump


DlDump = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def dl_dump(run_dl: RunDl, tmp_path_factory: pytest.TempPathFactory) -> DlDump:
    """``dl_dump(path, branch=None)``: what deeplake reads from ``path``, decoded."""
    counter = iter(range(1_000_000))

    def dump(path: str | os.PathLike[str], branch: str | None = None) -> dict[str, Any]:
        out = tmp_path_factory.getbasetemp() / f"dump-{next(counter)}.pkl"
        args: list[Any] = ["dump", path, out]
        if branch:
            args += ["--branch", branch]
        run_dl(*args)
        return _load_dump(out)

    return dump


# --------------------------------------------------------------------------------------------
# datasets written by deeplake (shared, never modified by tests)


@pytest.fixture(scope="session")
def dl_all(run_dl: RunDl, dl_dump: DlDump, tmp_path_factory: pytest.TempPathFactory):
    """(path, dump) of deeplake's every-htype dataset."""
    path = tmp_path_factory.mktemp("dl-all") / "ds"
    run_dl("write-all", path)
    return str(path), dl_dump(path)


@pytest.fixture(scope="session")
def dl_versioned(run_dl: RunDl, dl_dump: DlDump, tmp_path_factory: pytest.TempPathFactory):
    """(path, commits, {ref: dump}) for deeplake's two-branch dataset.

    ``commits`` maps "first"/"second"/"dev" to the ids deeplake's commit() returned; dumps are
    keyed by "main", "dev" and those commit ids.
    """
    import json

    path = tmp_path_factory.mktemp("dl-versioned") / "ds"
    proc = run_dl("write-versioned", path)
    commits = json.loads(proc.stdout.strip().splitlines()[-1])["commits"]
    dumps = {"main": dl_dump(path), "dev": dl_dump(path, "dev")}
    for ref in (commits["first"], commits["second"]):
        dumps[ref] = dl_dump(path, ref)
    return str(path), commits, dumps


# --------------------------------------------------------------------------------------------
# comparison helpers usable by tests through the fixture below


def assert_sample_equal(got: Any, want: Any, kind: str, where: str) -> None:
    if kind == "array":
        got = np.asarray(got)
        assert got.dtype == want.dtype, f"{where}: dtype {got.dtype} != {want.dtype}"
        assert got.shape == want.shape, f"{where}: shape {got.shape} != {want.shape}"
        np.testing.assert_array_equal(got, want, err_msg=where, strict=True)
    else:
        assert type(got) is type(want) or (kind == "json" and got == want), (
            f"{where}: type {type(got).__name__} != {type(want).__name__}"
        )
        assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.fixture(scope="session")
def sample_equal() -> Callable[[Any, Any, str, str], None]:
    return assert_sample_equal
