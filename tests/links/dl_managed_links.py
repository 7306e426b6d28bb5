"""The deeplake 3.9.52 side of the managed-links interop test: the real client, with a shoal
token and no cloud keys, reads a hub:// dataset whose links use a managed creds key, and
writes one of its own with ``add_creds_key(k, managed=True)``.

Runs ONLY under the deeplake venv's python, as a subprocess.

    python dl_managed_links.py TOKEN ORG URL   # prints one JSON line of results
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


def main(token: str, org: str, url: str) -> None:
    out = {}
    ds = deeplake.load(f"hub://{org}/linked", token=token, read_only=True, verbose=False)
    out["managed"] = sorted(ds.get_managed_creds_keys())
    out["sums"] = [int(ds.im[i].numpy().astype("int64").sum()) for i in range(len(ds.im))]
    new = deeplake.empty(f"hub://{org}/dl-linked", token=token, overwrite=True, verbose=False)
    new.create_tensor("im", htype="link[image]", sample_compression="png")
    new.add_creds_key("role", managed=True)
    new.im.append(deeplake.link(url, creds_key="role"))
    out["written_shape"] = list(new.im[0].numpy().shape)
    if dl_side.BLOCKED:
        out["blocked"] = dl_side.BLOCKED
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
