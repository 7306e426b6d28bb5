"""Version control on a raw image dataset, shoal against deeplake 3.9.52, on local disk and on
s3:// (SeaweedFS on loopback). Not a test: it prints medians and ratios (> 1 means shoal is
faster; target >= 3x for each).

    .venv/bin/python -m benches versions [--size-mb 1000] [--updates 1000] [--rounds 5]
                                         [--where local s3]

Each library builds its own dataset of 224x224x3 uint8 images (uncompressed, ``--size-mb``
of pixels, the same pixels on both sides; not timed) and commits it. Then ``--rounds``
rounds, shoal's and deeplake's alternating (deeplake runs in its own process, driven round by
round, so that both see the same moments of a shared machine), each timing what the user
waits for:

* update: ``--updates`` random samples (new indices and a new value each round) replaced in
  one ``with ds:`` block, until the block has written every chunk;
* commit: the commit of those updates (both libraries write the new head's metas, the
  commit infos and the version info under the version lock);
* checkout: checking out the first commit from main, and its length: the median of five
  per round (deeplake reads the metas through its memory cache, shoal from storage).

After each round both check what they hold: the updated values at main, the original ones at
the first commit. The table gives each side's median over the rounds and the ratio.

On s3 the update is bounded by the store: both libraries fetch and rewrite whole 8 MB chunks.
Each round also times the raw ceiling: a GET and a PUT of every chunk the round touches with
plain aiobotocore (unsigned bodies), at its best concurrency (swept in the first round), and
prints shoal's and deeplake's time over it.

deeplake runs in its own venv (.ci/setup-deeplake-venv) offline, with a private HOME and no
telemetry (benches/s3.py's runner). Data lives under $SHOAL_BENCH_DIR (./bench-data).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
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
from s3 import (  # noqa: E402
    BUCKET,
    DATA,
    DL_PYTHON,
    Env,
    dl_child_env,
    raw_client,
    start_seaweedfs,
)
from shoal import _native  # noqa: E402
from versions_rounds import build, one_round, pixels, round_plan  # noqa: E402

SIZE = 224
BATCH = 64
OPS = ("update", "commit", "checkout")

# The deeplake side: build, say "ready", then one round per line read from stdin.
_DL_DRIVER = textwrap.dedent(
    r"""
    import statistics, time
    creds = json.loads(os.environ["SHOAL_BENCH_CREDS"]) if path.startswith("s3://") else None
    n, updates = int(sys.argv[3]), int(sys.argv[4])
    base = pixels()
    ds = deeplake.empty(path, creds=creds, overwrite=True, verbose=False)
    first = build(ds, n, base)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(one_round(ds, first, n, updates, int(line), base)), flush=True)
    """
)

# The rounds, shared: the deeplake side runs the very source of this module.
_ROUND_COMMON = (
    (Path(__file__).resolve().parent / "versions_rounds.py")
    .read_text()
    .replace("from __future__ import annotations", "")
)


class DeeplakeSide:
    """deeplake in its own venv and process, driven one round at a time."""

    def __init__(self, env: Env, home: Path, path: str, n: int, updates: int) -> None:
        import s3

        head = s3._DL_SCRIPT.split("def images(")[0]  # offline guard, deeplake imported
        script = head + _ROUND_COMMON + _DL_DRIVER
        self.proc = subprocess.Popen(
            [DL_PYTHON, "-c", script, "rounds", path, str(n), str(updates)],
            env=dl_child_env(env, home),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._read()  # built

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the deeplake side exited ({self.proc.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def round(self, r: int) -> dict[str, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{r}\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(60)


# -- the raw ceiling of an s3 update: GET and PUT each touched chunk -------------------------
def touched_chunks(ds: Any, idx: list[int]) -> list[str]:
    """The keys of the chunk objects holding samples ``idx`` (of tensor images)."""
    from shoal import _loop

    engine = ds._engine
    _loop.run(engine.load(["images"], full=True))
    t = engine.tensors["images"]
    rows = np.unique(np.searchsorted(t.chunk_ids[:, 1].astype(np.int64), idx, side="left"))
    return [_loop.run(t.fetch.key(int(t.chunk_ids[r, 0]))) for r in rows]


async def _raw_copy(env: Env, prefix: str, keys_: list[str], conc: int) -> float:
    # unsigned bodies: botocore would hash each 8 MB body to sign it (shoal does not on
    # loopback), and the ceiling is the best plain aiobotocore can do
    async with raw_client(env, conc, unsigned_bodies=True) as client:
        sem = asyncio.Semaphore(conc)

        async def one(key: str) -> None:
            async with sem:
                resp = await client.get_object(Bucket=BUCKET, Key=f"{prefix}/{key}")
                async with resp["Body"] as body:
                    data = await body.read()
                await client.put_object(Bucket=BUCKET, Key=f"raw-ceiling/{key}", Body=data)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(k) for k in keys_))
        elapsed = time.perf_counter() - t0
        await asyncio.gather(
            *(client.delete_object(Bucket=BUCKET, Key=f"raw-ceiling/{k}") for k in keys_)
        )
    return elapsed


class RawCeiling:
    def __init__(self, env: Env, prefix: str) -> None:
        self.env, self.prefix, self.conc = env, prefix, 0

    def measure(self, keys_: list[str]) -> float:
        if not self.conc:  # the first round sweeps; the best concurrency is kept
            sweep = {c: asyncio.run(_raw_copy(self.env, self.prefix, keys_, c)) for c in (1, 4, 16)}
            print(
                "  raw GET+PUT sweep (s by concurrency): "
                + ", ".join(f"{c}: {t:.2f}" for c, t in sweep.items()),
                flush=True,
            )
            self.conc = min(sweep.items(), key=lambda kv: kv[1])[0]
            return sweep[self.conc]
        return asyncio.run(_raw_copy(self.env, self.prefix, keys_, self.conc))


# -- one store ---------------------------------------------------------------------------------
def bench(
    where: str, env: Env, home: Path, workdir: Path, n: int, updates: int, rounds: int
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    if where == "s3":
        ours, theirs, creds = (
            f"s3://{BUCKET}/vc-shoal-{tag}",
            f"s3://{BUCKET}/vc-dl-{tag}",
            env.creds,
        )
    else:
        ours, theirs, creds = str(workdir / "vc-shoal"), str(workdir / "vc-dl"), None
    base = pixels()
    ds = shoal.empty(ours, creds=creds, overwrite=True)
    first = build(ds, n, base)
    dl = DeeplakeSide(env, home, theirs, n, updates)
    raw = RawCeiling(env, f"vc-shoal-{tag}") if where == "s3" else None
    mine: list[dict[str, float]] = []
    theirs_: list[dict[str, float]] = []
    ceiling: list[float] = []
    try:
        for r in range(rounds):
            if raw is not None:
                ceiling.append(raw.measure(touched_chunks(ds, round_plan(n, updates, r)[0])))
            mine.append(one_round(ds, first, n, updates, r, base))
            theirs_.append(dl.round(r))
            print(
                f"  round {r}: "
                + "  ".join(f"{op} {mine[-1][op]:.4f}/{theirs_[-1][op]:.4f}" for op in OPS)
                + (f"  raw {ceiling[-1]:.2f}" if ceiling else "")
                + "  (s, shoal/deeplake)",
                flush=True,
            )
    finally:
        dl.close()
        ds.close()
    med = {
        side: {op: statistics.median(x[op] for x in runs) for op in OPS}
        for side, runs in (("shoal", mine), ("deeplake", theirs_))
    }
    out: dict[str, Any] = {"where": where, **med}
    if ceiling:
        out["raw"] = statistics.median(ceiling)
        out["raw_conc"] = raw.conc if raw is not None else 0
    return out


def print_table(results: list[dict[str, Any]], gb: float, updates: int) -> None:
    print(f"\nmedians, {gb:.2f} GB, {updates} updates; load average {os.getloadavg()}")
    print(f"{'store':<8} {'operation':<32} {'shoal s':>10} {'deeplake s':>11} {'ratio':>8}")
    what = {
        "update": f"update {updates} samples",
        "commit": "commit",
        "checkout": "checkout the first commit",
    }
    for res in results:
        for op in OPS:
            s, d = res["shoal"][op], res["deeplake"][op]
            print(
                f"{res['where']:<8} {what[op]:<32} {s:>10.4f} {d:>11.4f} {d / s:>7.2f}x"
                "  (target >= 3x)"
            )
        if "raw" in res:
            raw, s, d = res["raw"], res["shoal"]["update"], res["deeplake"]["update"]
            print(
                f"{res['where']:<8} {'raw GET+PUT of touched chunks':<32} {raw:>10.4f} "
                f"(aiobotocore@{res['raw_conc']}): shoal takes {s / raw:.2f}x the raw time, "
                f"deeplake {d / raw:.2f}x; 3x deeplake needs {d / 3 / raw:.2f}x"
            )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benches versions", description=__doc__)
    p.add_argument("--size-mb", type=float, default=256, help="pixels of the dataset (1000: 1 GB)")
    p.add_argument("--updates", type=int, default=1000, help="random samples updated per round")
    p.add_argument("--rounds", type=int, default=5, help="rounds (medians are reported)")
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
    gb = n * SIZE * SIZE * 3 / 1e9
    print(
        f"version control on {n} images of {SIZE}x{SIZE}x3 ({gb:.2f} GB, {os.cpu_count()} "
        f"cores), {args.rounds} rounds; load average {os.getloadavg()}",
        flush=True,
    )
    env = start_seaweedfs(workdir / "weed")
    results = []
    try:
        home = workdir / "deeplake-home"
        home.mkdir()
        for where in args.where:
            print(f"{where}:", flush=True)
            results.append(bench(where, env, home, workdir, n, args.updates, args.rounds))
    finally:
        env.weed.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(results, gb, args.updates)
    print(json.dumps({"gb": gb, "results": results}), flush=True)


if __name__ == "__main__":
    main()
