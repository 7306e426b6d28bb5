"""shoal's side of the harness, one measurement per fresh process (so that peak RSS is the
loader's own, and no cache or pool of an earlier measurement helps).

    python suite_shoal.py '{"cmd": "loader"|"ingest", "kind", "path", "size_mb", "creds", ...}'

Prints one JSON line. ``loader``: one epoch of ``ds.loader(batch_size=...)`` timed from the
start of the iteration (first batch, every batch's wait, samples/s, peak RSS), then random
single-sample reads (``ds.tensor[i].numpy()``) for their latency. A second epoch, timed on its
own, shows the steady state (no start-up; prefetch carries over the epoch's end).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import suite_data

HERE = Path(__file__).resolve()


def _rss_mb() -> float:
    """Peak RSS of this process since it started. Linux's ``ru_maxrss`` survives ``execve``
    (a child of a big harness would report the harness's peak), VmHWM does not."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process, every thread, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loader(args: dict[str, Any], spec: suite_data.Spec) -> dict[str, Any]:
    import shoal

    ds = shoal.load(args["path"], read_only=True, creds=args["creds"])
    rss_open = _rss_mb()
    loader = ds.loader(
        batch_size=spec.batch,
        shuffle=bool(args.get("shuffle")),
        seed=0,
        prefetch_bytes=int(args["prefetch_bytes"]),
    )
    waits: list[float] = []
    count = 0
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    last = t0
    for batch in loader:
        now = time.perf_counter()
        waits.append(now - last)
        count += len(batch["labels"])
        assert len(batch[spec.main]) == len(batch["labels"])
        last = time.perf_counter()
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    if count != spec.count:
        raise SystemExit(f"the loader read {count} of {spec.count} samples")
    # The next epoch, as training goes on: no start-up, its first chunks already on the way.
    t1 = time.perf_counter()
    again = sum(len(b["labels"]) for b in loader)
    epoch2 = time.perf_counter() - t1
    peak = _rss_mb()
    loader.close()
    if again != spec.count:
        raise SystemExit(f"the second epoch read {again} of {spec.count} samples")
    rng = np.random.default_rng(1)
    lat = []
    tensor = ds[spec.main]
    for i in rng.integers(0, spec.count, int(args.get("random_reads", 100))).tolist():
        r0 = time.perf_counter()
        tensor[i].numpy()
        lat.append(time.perf_counter() - r0)
    return {
        "seconds": seconds,
        "epoch2": epoch2,
        "cpu": cpu,
        "samples": count,
        "first": waits[0],
        "batch_p50": float(np.percentile(waits[1:] or waits, 50)),
        "batch_p99": float(np.percentile(waits[1:] or waits, 99)),
        "rss_mb": peak,
        "rss_open_mb": rss_open,
        "random_p50": float(np.percentile(lat, 50)),
        "random_p99": float(np.percentile(lat, 99)),
    }


def _ingest(args: dict[str, Any], spec: suite_data.Spec) -> dict[str, Any]:
    import shoal

    suite_data.warm(spec.kind)
    t0 = time.perf_counter()
    ds = shoal.empty(args["path"], overwrite=True, creds=args["creds"])
    suite_data.ingest(ds, spec)
    return {"seconds": time.perf_counter() - t0}


def main(args: dict[str, Any]) -> None:
    spec = suite_data.specs(float(args["size_mb"]))[args["kind"]]
    out = _loader(args, spec) if args["cmd"] == "loader" else _ingest(args, spec)
    print(json.dumps(out), flush=True)


def run(args: dict[str, Any], profile: str | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; ``profile``: record it with py-spy into
    this file (a flame graph if it ends in .svg, else collapsed stacks) when py-spy is
    installed."""
    cmd = [sys.executable, str(HERE), json.dumps(args)]
    spy = Path(sys.executable).with_name("py-spy")
    if profile and spy.exists():
        fmt = "flamegraph" if profile.endswith(".svg") else "raw"  # raw: collapsed stacks
        cmd = [str(spy), "record", "-r", "100", "-t", "-f", fmt, "-o", profile, "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"shoal side failed: {args['cmd']} {args['kind']}\n{proc.stderr[-3000:]}"
        )
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    main(json.loads(sys.argv[1]))
