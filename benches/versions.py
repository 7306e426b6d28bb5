"""Version control on a raw image dataset, shoal against deeplake 3.9.52, on local disk and on
s3:// (SeaweedFS on loopback). Not a test: it prints seconds and ratios (> 1 means shoal is
faster; target >= 3x for each).

    .venv/bin/python -m benches versions [--size-mb 1000] [--updates 1000] [--where local s3]

Each library builds its own dataset of 224x224x3 uint8 images (uncompressed, ``--size-mb``
of pixels; the build is not timed) and commits it, then, timed:

* update: ``--updates`` random samples updated in one batch (``with ds:``) and flushed;
* commit: the commit of those updates;
* checkout: checking out the first commit again (and its length), from main: the median of
  five;
* read: then reading one of the updated samples there (as it was before the update; shown
  for completeness: deeplake keeps the chunks it wrote in its memory cache, shoal reads them).

deeplake runs in its own venv (.ci/setup-deeplake-venv) through ``s3.run_dl``: offline, a
private HOME, no telemetry.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

import shoal  # noqa: E402
from s3 import BUCKET, DATA, DL_PYTHON, Env, report, run_dl, start_seaweedfs  # noqa: E402
from shoal import _native  # noqa: E402

SIZE = 224
BATCH = 64

_DL_STEPS = textwrap.dedent(
    r"""
    import numpy as np, time
    creds = json.loads(os.environ["SHOAL_BENCH_CREDS"]) if path.startswith("s3://") else None
    n, updates, seed = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(16, 224, 224, 3), dtype=np.uint8)
    ds = deeplake.empty(path, creds=creds, overwrite=True, verbose=False)
    with ds:
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
        for s in range(0, n, 64):
            ds.images.extend(base[np.arange(s, min(n, s + 64)) % 16])
    first = ds.commit("build")
    idx = np.random.default_rng(seed).choice(n, size=updates, replace=False)
    new = 255 - base[3]
    t0 = time.perf_counter()
    with ds:
        for i in idx:
            ds.images[int(i)] = new
    t1 = time.perf_counter()
    ds.commit("updates")
    t2 = time.perf_counter()
    times = []
    for _ in range(5):  # the median of five: one checkout is a few milliseconds
        ds.checkout("main")
        t3 = time.perf_counter()
        ds.checkout(first)
        length = len(ds.images)
        times.append(time.perf_counter() - t3)
    t4 = time.perf_counter()
    pixel = int(ds.images[int(idx[0])].numpy()[0, 0, 0])
    t5 = time.perf_counter()
    checkout = sorted(times)[2]
    print(json.dumps({"update": t1 - t0, "commit": t2 - t1, "checkout": checkout, "read": t5 - t4, "pixel": pixel, "len": length}))
    """
)


def deeplake_script() -> str:
    """s3.py's deeplake side (offline guard, deeplake imported, ``cmd`` and ``path`` set),
    with these steps in place of its commands."""
    import s3

    head = s3._DL_SCRIPT.split("def images(")[0]
    return head + _DL_STEPS


def base_pixel(seed: int, n: int, updates: int) -> int:
    """Pixel [0, 0, 0] of the first updated sample before its update."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(16, SIZE, SIZE, 3), dtype=np.uint8)
    first = int(np.random.default_rng(seed).choice(n, size=updates, replace=False)[0])
    return int(base[first % 16, 0, 0, 0])


def shoal_run(path: str, creds: Any, n: int, updates: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(0)  # the same pixels as the deeplake side
    base = rng.integers(0, 256, size=(16, SIZE, SIZE, 3), dtype=np.uint8)
    ds = shoal.empty(path, creds=creds, overwrite=True)
    with ds:
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
        for s in range(0, n, BATCH):
            ds.images.extend(base[np.arange(s, min(n, s + BATCH)) % 16])
    first = ds.commit("build")
    idx = np.random.default_rng(seed).choice(n, size=updates, replace=False)
    new = 255 - base[3]
    t0 = time.perf_counter()
    with ds:
        for i in idx:
            ds.images[int(i)] = new
    t1 = time.perf_counter()
    ds.commit("updates")
    t2 = time.perf_counter()
    times = []
    for _ in range(5):  # the median of five: one checkout is a few milliseconds
        ds.checkout("main")
        t3 = time.perf_counter()
        ds.checkout(first)
        length = len(ds.images)
        times.append(time.perf_counter() - t3)
    t4 = time.perf_counter()
    pixel = int(ds.images[int(idx[0])].numpy()[0, 0, 0])
    t5 = time.perf_counter()
    ds.close()
    return {
        "update": t1 - t0,
        "commit": t2 - t1,
        "checkout": sorted(times)[2],
        "read": t5 - t4,
        "pixel": pixel,
        "len": length,
    }


def bench(where: str, env: Env, home: Path, workdir: Path, n: int, updates: int) -> None:
    tag = uuid.uuid4().hex[:6]
    if where == "s3":
        ours, theirs, creds = (
            f"s3://{BUCKET}/vc-shoal-{tag}",
            f"s3://{BUCKET}/vc-dl-{tag}",
            env.creds,
        )
    else:
        ours, theirs, creds = str(workdir / "vc-shoal"), str(workdir / "vc-dl"), None
    seed = 7
    mine = shoal_run(ours, creds, n, updates, seed)
    dl = run_dl(
        env, home, "steps", theirs, str(n), str(updates), str(seed), script=deeplake_script()
    )
    # both see the first commit: its length and its pixels
    assert (
        (mine["pixel"], mine["len"])
        == (dl["pixel"], dl["len"])
        == (base_pixel(seed, n, updates), n)
    )
    gb = n * SIZE * SIZE * 3 / 1e9
    for op, what in (
        ("update", f"update {updates} samples"),
        ("commit", "commit"),
        ("checkout", "checkout the first commit"),
        ("read", "then read an updated sample"),
    ):
        report(
            f"{where}: {what} ({gb:.2f} GB)", 1 / mine[op], 1 / dl[op], "/s", ">= 3x", "deeplake"
        )
        print(f"    seconds: shoal {mine[op]:.3f}  deeplake {dl[op]:.3f}", flush=True)
    print(json.dumps({"where": where, "gb": gb, "shoal": mine, "deeplake": dl}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benches versions", description=__doc__)
    p.add_argument("--size-mb", type=float, default=256, help="pixels of the dataset (1000: 1 GB)")
    p.add_argument("--updates", type=int, default=1000, help="random samples updated")
    p.add_argument("--where", nargs="+", default=["local", "s3"], choices=["local", "s3"])
    args = p.parse_args()
    n = max(int(args.size_mb * 1e6 / (SIZE * SIZE * 3)), args.updates)
    if _native.build_profile != "release":
        print("warning: shoal._native is a debug build; numbers are meaningless", file=sys.stderr)
    if not os.access(DL_PYTHON, os.X_OK):
        raise SystemExit(f"no deeplake python at {DL_PYTHON}: run .ci/setup-deeplake-venv")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    DATA.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="versions-bench-", dir=DATA))
    print(
        f"version control on {n} images of {SIZE}x{SIZE}x3 ({os.cpu_count()} cores); rates are "
        "operations per second",
        flush=True,
    )
    env = start_seaweedfs(workdir / "weed")
    try:
        home = workdir / "deeplake-home"
        home.mkdir()
        for where in args.where:
            bench(where, env, home, workdir, n, args.updates)
    finally:
        env.weed.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
