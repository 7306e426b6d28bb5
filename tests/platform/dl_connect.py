"""The deeplake 3.9.52 side of the managed-credentials interop test: the real client, with a
shoal token and no cloud keys, connects an s3:// dataset in the org's own bucket, loads it as
hub://, and opens s3:// paths with creds={"creds_key": ...} and org_id.

Runs ONLY under the deeplake venv's python, as a subprocess (see dl_hub.py).

    python dl_connect.py TOKEN ORG SRC SRC2   # prints one JSON line of results
"""

# mypy: ignore-errors

from __future__ import annotations

import importlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))

dl_side = importlib.import_module("dl_side")

deeplake = dl_side.deeplake
deeplake.client.config.USE_LOCAL_HOST = True


def outcome(fn):
    try:
        fn()
    except Exception as exc:  # the class and message deeplake shows its user
        return {"error": type(exc).__name__, "message": str(exc)[:300]}
    return {"error": None}


def main(token: str, org: str, src: str, src2: str) -> None:
    out = {}
    ds = deeplake.connect(src, creds_key="role", org_id=org, token=token)
    out["connected_path"] = ds.path
    out["connected_x"] = ds.x.numpy().tolist()
    again = deeplake.load(f"hub://{org}/conn", token=token, read_only=True, verbose=False)
    out["hub_x"] = again.x.numpy().tolist()

    direct = deeplake.load(
        src2, creds={"creds_key": "role"}, org_id=org, token=token, verbose=False
    )
    out["direct_len"] = len(direct.x)
    direct.connect(dest_path=f"hub://{org}/conn2", token=token)
    conn2 = deeplake.load(f"hub://{org}/conn2", token=token, read_only=True, verbose=False)
    out["conn2_len"] = len(conn2.x)
    out["missing_key"] = outcome(
        lambda: deeplake.load(src2, creds={"creds_key": "nokey"}, org_id=org, token=token)
    )
    if dl_side.BLOCKED:
        out["blocked"] = dl_side.BLOCKED
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:5])
