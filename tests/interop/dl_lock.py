"""deeplake's side of the write-lock tests: hold a dataset open for writing, or try to write."""

from __future__ import annotations

import json
import sys

from dl_offline import deeplake, np


def hold(path: str) -> None:
    """Open ``path`` for writing (deeplake takes dataset_lock.lock), say so, and keep it open
    until stdin closes; then append one sample and exit (releasing the lock)."""
    ds = deeplake.load(path, read_only=False, verbose=False)
    print(json.dumps({"read_only": ds.read_only}), flush=True)
    sys.stdin.read()
    ds.x.append(np.array([-1], dtype=np.int64))
    ds.flush()


def try_append(path: str) -> None:
    """Open ``path`` for writing (``read_only=False`` refuses a locked dataset; the default
    falls back to read-only) and append one sample if deeplake lets us."""
    refused = None
    try:
        deeplake.load(path, read_only=False, verbose=False)
    except Exception as e:  # deeplake's LockedException, when the lock is taken
        refused = type(e).__name__
    ds = deeplake.load(path, verbose=False)
    appended, error = False, None
    try:
        ds.x.append(np.array([-2], dtype=np.int64))
        ds.flush()
        appended = True
    except Exception as e:  # deeplake's ReadOnlyModeError, when the lock is taken
        error = type(e).__name__
    print(
        json.dumps(
            {"refused": refused, "read_only": ds.read_only, "appended": appended, "error": error}
        )
    )


def vc_summary(out: str, paths: list) -> None:
    """Per path: whether deeplake loads it (integrity check on), main's commit messages, the
    branches and the length of x on main; written to ``out`` as JSON."""
    result = {}
    for path in paths:
        try:
            ds = deeplake.load(path, read_only=True, verbose=False, check_integrity=True)
            result[path] = {
                "ok": True,
                "commits": [c["message"] for c in ds.commits],
                "branches": sorted(ds.branches),
                "x": ds.x.numpy().reshape(-1).tolist(),
            }
        except Exception as e:
            result[path] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    with open(out, "w") as f:
        json.dump(result, f)
