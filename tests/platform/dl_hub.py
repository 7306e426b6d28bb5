"""The deeplake 3.9.52 side of the platform interop test: the real client, holding a shoal
token, against the platform on http://localhost:7777 (deeplake's hard-coded local backend).

Runs ONLY under the deeplake venv's python, as a subprocess. Imports tests/interop/dl_side.py
first, which makes it offline by construction (private HOME with a fresh pypi_version.json,
BUGGER_OFF, a socket guard refusing anything but loopback) and imports deeplake.

    python dl_hub.py TOKEN OTHER_TOKEN BAD_TOKEN ORG   # prints one JSON line of results
"""

# mypy: ignore-errors

from __future__ import annotations

import importlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))

# The offline guard, then deeplake (by name, so type checkers do not follow it).
dl_side = importlib.import_module("dl_side")

deeplake = dl_side.deeplake
np = dl_side.np
deeplake.client.config.USE_LOCAL_HOST = True


def outcome(fn):
    try:
        fn()
    except Exception as exc:  # the class and message deeplake shows its user
        return {"error": type(exc).__name__, "message": str(exc)[:300]}
    return {"error": None}


def main(token: str, other_token: str, bad_token: str, org: str) -> None:
    out = {}
    path = f"hub://{org}/from-deeplake"
    ds = deeplake.empty(path, token=token, overwrite=True, verbose=False)
    with ds:
        ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
        ds.create_tensor("vec", htype="generic", dtype="float32")
        ds.labels.extend(np.array([0, 1, 1, 0], dtype=np.uint32))
        ds.vec.extend(np.arange(12, dtype=np.float32).reshape(4, 3))
    back = deeplake.load(path, token=token, read_only=True, verbose=False)
    out["read_back"] = back.vec.numpy().tolist()
    out["read_only_flag"] = bool(back.read_only)

    # A dataset shoal wrote through the platform (created by the test before this runs).
    shoal_ds = deeplake.load(f"hub://{org}/from-shoal", token=token, read_only=True, verbose=False)
    out["shoal_written"] = shoal_ds.nums.numpy().ravel().tolist()

    # Errors as the deeplake user sees them.
    out["other_org"] = outcome(lambda: deeplake.load(path, token=other_token, verbose=False))
    out["bad_token"] = outcome(lambda: deeplake.load(path, token=bad_token, verbose=False))

    # Rename, then delete (removes the data and the platform's entry) a scratch dataset.
    scratch = deeplake.empty(f"hub://{org}/scratch", token=token, overwrite=True, verbose=False)
    scratch.create_tensor("t", htype="text")
    scratch.t.extend(["x", "y"])
    scratch.rename(f"hub://{org}/renamed-by-deeplake")
    renamed = deeplake.load(
        f"hub://{org}/renamed-by-deeplake", token=token, read_only=True, verbose=False
    )
    out["renamed_len"] = len(renamed)
    deeplake.delete(f"hub://{org}/renamed-by-deeplake", token=token)
    out["deleted"] = True
    if dl_side.BLOCKED:
        out["blocked"] = dl_side.BLOCKED
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:5])
