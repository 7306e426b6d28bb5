"""Editing benchmarks: shoal against deeplake 3.9.52 in the same run, on local disk and on
s3:// (SeaweedFS on loopback). Not tests: they print figures and the ratio (> 1 means shoal
is faster; target in brackets).

    .venv/bin/python -m benches edit                       # ~1 GB of raw images, both stores
    .venv/bin/python -m benches edit --size-mb 256 --updates 1000 --stores local

* update: 1,000 random samples of a dataset of 224x224x3 uint8 images (raw, no compression)
  replaced in one ``with ds:`` block (the way deeplake users batch writes), timed from the
  first assignment to the end of the block (every chunk written)  [>= 3x]; ``--rounds``
  rounds (new indices and values each), shoal's and deeplake's alternating, medians compared

benches/versions.py times the same update (with commits and checkouts between, and the raw
GET+PUT ceiling on s3).

Each library edits its own copy, written by itself; deeplake runs in its venv
(.ci/setup-deeplake-venv) offline, through benches/s3.py's runner. The updated samples are
read back by both afterwards and checked. Data lives under $SHOAL_BENCH_DIR (./bench-data).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

BENCHES = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHES))

import s3 as s3_bench  # noqa: E402  (SeaweedFS, the deeplake runner)
import shoal  # noqa: E402
from shoal import _native  # noqa: E402

SIZE = 224

# The deeplake side: ingest, update, check. Runs after benches/s3.py's offline guard.
_DL_EDIT = s3_bench._DL_SCRIPT.split("import deeplake, numpy as np")[0] + textwrap.dedent(
    """
    import deeplake, numpy as np
    creds = json.loads(os.environ["SHOAL_BENCH_CREDS"])
    cmd, path = sys.argv[1], sys.argv[2]
    kw = {"creds": creds} if path.startswith("s3://") else {}
    def picture(i, size=224):
        return np.full((size, size, 3), i % 251, np.uint8)
    if cmd == "ingest":
        n, batch = int(sys.argv[3]), 64
        ds = deeplake.empty(path, overwrite=True, verbose=False, **kw)
        with ds:
            ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
            for s in range(0, n, batch):
                ds.images.extend(np.stack([picture(i) for i in range(s, min(n, s + batch))]))
        print(json.dumps({"ok": True}))
    elif cmd == "update":
        idx, first = json.loads(sys.argv[3]), int(sys.argv[4])
        ds = deeplake.load(path, verbose=False, **kw)
        new = [picture(first + j) for j in range(len(idx))]
        t0 = time.perf_counter()
        with ds:
            for i, img in zip(idx, new):
                ds.images[i] = img
        seconds = time.perf_counter() - t0
        ro = deeplake.load(path, read_only=True, verbose=False, **kw)
        got = [int(ro.images[i].numpy()[5, 5, 1]) for i in idx[:50]]
        print(json.dumps({"seconds": seconds, "check": got}))
    """
)


def picture(i: int) -> np.ndarray:
    return np.full((SIZE, SIZE, 3), i % 251, np.uint8)


def ingest(path: str, n: int, creds: Any) -> None:
    ds = shoal.empty(path, overwrite=True, creds=creds)
    with ds:
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
        for s in range(0, n, 64):
            ds.images.extend(np.stack([picture(i) for i in range(s, min(n, s + 64))]))


def update(path: str, idx: list[int], creds: Any, first: int) -> float:
    ds = shoal.load(path, creds=creds)
    new = [picture(first + j) for j in range(len(idx))]
    t0 = time.perf_counter()
    with ds:
        for i, img in zip(idx, new, strict=True):
            ds.images[i] = img
    seconds = time.perf_counter() - t0
    ro = shoal.load(path, read_only=True, creds=creds)
    for j, i in enumerate(idx[:50]):
        assert ro.images[i].numpy()[5, 5, 1] == (first + j) % 251, i
    return seconds


def bench_update(
    store: str,
    root: str,
    env: s3_bench.Env | None,
    home: Path,
    n: int,
    updates: int,
    rounds: int,
) -> None:
    creds = env.creds if env is not None else None
    tag = uuid.uuid4().hex[:6]
    ours, theirs = f"{root}/edit-shoal-{tag}", f"{root}/edit-deeplake-{tag}"
    ingest(ours, n, creds)
    dl_env = env if env is not None else s3_bench.Env.__new__(s3_bench.Env)
    if env is None:
        dl_env.creds = {}
    s3_bench.run_dl(dl_env, home, "ingest", theirs, str(n), script=_DL_EDIT)
    mine, dls = [], []
    for r in range(rounds):
        rng = np.random.default_rng(7 + r)
        idx = sorted(rng.choice(n, size=min(updates, n), replace=False).tolist())
        first = 1000 + 17 * r
        mine.append(update(ours, idx, creds, first))
        dl = s3_bench.run_dl(
            dl_env, home, "update", theirs, json_list(idx), str(first), script=_DL_EDIT
        )
        assert dl["check"] == [(first + j) % 251 for j in range(len(idx[:50]))], dl["check"]
        dls.append(dl["seconds"])
        print(f"  round {r}: shoal {mine[-1]:.2f} s, deeplake {dls[-1]:.2f} s", flush=True)
    gb = n * SIZE * SIZE * 3 / 1e9
    s3_bench.report(
        f"update {min(updates, n)} of {n} images ({gb:.2f} GB), {store}",
        updates / statistics.median(mine),
        updates / statistics.median(dls),
        "samples/s",
        ">= 3x",
        "deeplake",
    )


def json_list(values: list[int]) -> str:
    return "[" + ",".join(map(str, values)) + "]"


def main() -> None:
    parser = argparse.ArgumentParser(prog="benches edit", description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="dataset size (default 1024)")
    parser.add_argument("--updates", type=int, default=1000, help="samples updated")
    parser.add_argument("--stores", default="local,s3", help="local, s3 or both")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians are compared)")
    args = parser.parse_args()
    if _native.build_profile != "release":
        print("warning: shoal._native is a debug build; numbers are meaningless", file=sys.stderr)
    if not os.access(s3_bench.DL_PYTHON, os.X_OK):
        raise SystemExit(f"no deeplake python at {s3_bench.DL_PYTHON}: run .ci/setup-deeplake-venv")
    n = max(1, args.size_mb * 1_000_000 // (SIZE * SIZE * 3))
    stores = args.stores.split(",")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    s3_bench.DATA.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="edit-bench-", dir=s3_bench.DATA))
    print(
        f"shoal edit benchmarks ({os.cpu_count()} cores); load average {os.getloadavg()}",
        flush=True,
    )
    home = workdir / "deeplake-home"
    home.mkdir()
    env = None
    try:
        if "local" in stores:
            bench_update(
                "local disk", str(workdir / "local"), None, home, n, args.updates, args.rounds
            )
        if "s3" in stores:
            env = s3_bench.start_seaweedfs(workdir / "weed")
            bench_update(
                "s3://", f"s3://{s3_bench.BUCKET}", env, home, n, args.updates, args.rounds
            )
        print(f"load average at the end {os.getloadavg()}", flush=True)
    finally:
        if env is not None:
            env.weed.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
