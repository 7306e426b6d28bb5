"""The deeplake side of the link-tensor interop tests (runs ONLY under the deeplake venv).

python dl_links.py write PATH FILES_JSON   # link[image] tensor of the files, a None, a key
python dl_links.py read PATH OUT_JSON      # per sample: shape and pixel sum; creds keys
python dl_links.py nones PATH FILES_JSON   # link[image] tensors with None samples (see below)
"""

from __future__ import annotations

import json
import sys

from dl_offline import deeplake, np


def write(path: str, files: list[str]) -> None:
    ds = deeplake.empty(path, overwrite=True)
    ds.create_tensor("im", htype="link[image]", sample_compression="jpeg")
    ds.add_creds_key("k")
    ds.populate_creds("k", {})
    ds.im.extend([deeplake.link(f) for f in files])
    ds.im.append(None)
    ds.create_tensor("raw", htype="link[image]", sample_compression="png", verify=False)
    ds.raw.extend([deeplake.link(f) for f in files[:2]])


def nones(path: str, files: list[str]) -> None:
    """None samples appended alone (``a``: link, None, link) and among links (``b``: one
    extend of link, None, link; ``c``: None first)."""
    ds = deeplake.empty(path, overwrite=True)
    for t in ("a", "b", "c"):
        ds.create_tensor(t, htype="link[image]", sample_compression="png")
    links = [deeplake.link(f) for f in files]
    ds.a.append(links[0])
    ds.a.append(None)
    ds.a.extend([links[1]])
    ds.b.extend([links[0], None, links[1]])
    ds.c.extend([None])
    ds.c.append(links[0])


def read(path: str, out: str) -> None:
    ds = deeplake.load(path, read_only=True)
    samples = []
    for t in ("im", "raw"):
        if t not in ds.tensors:
            continue
        for i in range(len(ds[t])):
            arr = ds[t][i].numpy()
            samples.append([t, list(arr.shape), int(arr.astype(np.int64).sum())])
    with open(out, "w") as f:
        json.dump(
            {
                "samples": samples,
                "creds_keys": sorted(ds.get_creds_keys()),
                "paths": [str(np.asarray(p).reshape(-1)[0]) for p in ds.im.path(aslist=True)],
            },
            f,
        )


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2], json.loads(sys.argv[3]))
    elif cmd == "nones":
        nones(sys.argv[2], json.loads(sys.argv[3]))
    elif cmd == "read":
        read(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown command {cmd}")
