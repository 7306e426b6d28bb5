"""Opening an s3:// dataset: where a first open's time goes, and what a second open costs.

    .venv/bin/python benches/s3_open.py            # SeaweedFS on loopback, 100-tensor dataset
    SHOAL_BENCH_ROUNDS=5 .venv/bin/python benches/s3_open.py

Each round runs in a fresh process: it imports the cloud stack (aiohttp, botocore,
aiobotocore), then shoal, then opens the dataset (``shoal.load`` + ``len`` + the tensor list)
twice. The first open is broken down into credential resolution, client creation and each
request (the first request on a client also builds its endpoint resolver); the second open
reuses the pooled client [target: <= 5 ms]. If deeplake's venv is there, deeplake 3.9.52
opens the same dataset in a fresh process too (after its import, as benches/s3.py measures it)
[target: shoal's fresh-process open <= 1/10 of deeplake's].
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))

import s3 as s3bench  # noqa: E402  (SeaweedFS and deeplake helpers)
import shoal  # noqa: E402

ROUNDS = int(os.environ.get("SHOAL_BENCH_ROUNDS", "3"))
TENSORS = 100

_CHILD = textwrap.dedent(
    r"""
    import json, sys, time
    t0 = time.perf_counter()
    import aiohttp, botocore.session, aiobotocore.session  # the cloud stack
    t1 = time.perf_counter()
    import shoal
    t2 = time.perf_counter()
    from shoal.auth import aws
    from shoal.storage import _s3, _s3_client
    import asyncio
    from shoal import _loop
    path, small, creds = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    phases = {"resolve": 0.0, "client": 0.0}
    requests = []

    def timed(name, fn):
        async def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return await fn(*a, **k)
            finally:
                phases[name] += time.perf_counter() - t
        return wrapper

    aws.resolve = timed("resolve", aws.resolve)
    _s3_client._connect = timed("client", _s3_client._connect)
    call = _s3.S3Storage._call

    async def timed_call(self, op, key, fn, **kw):
        t = time.perf_counter()
        try:
            return await call(self, op, key, fn, **kw)
        finally:
            requests.append([op, key, time.perf_counter() - t])

    _s3.S3Storage._call = timed_call

    def open_once(where):
        t = time.perf_counter()
        ds = shoal.load(where, read_only=True, creds=creds)
        names, n = sorted(ds.tensors), len(ds)
        return time.perf_counter() - t, len(names), n

    async def storage_open():
        bucket, _, prefix = path[len("s3://"):].partition("/")
        t = time.perf_counter()
        store = await _s3.S3Storage.open(bucket, prefix, creds=creds, read_only=True)
        elapsed = time.perf_counter() - t
        await store.close()
        return elapsed

    def on_loop(coro):
        return asyncio.run_coroutine_threadsafe(coro, _loop.get_loop()).result()

    first, tensors, length = open_once(path)
    first_phases, first_requests = dict(phases), list(requests)
    requests.clear()
    second, _, _ = open_once(path)
    second_requests = list(requests)
    small_second = min(open_once(small)[0] for _ in range(5))
    storage_second = min(on_loop(storage_open()) for _ in range(5))
    print(json.dumps({
        "import_cloud": t1 - t0, "import_shoal": t2 - t1, "first": first, "second": second,
        "phases": first_phases, "requests": first_requests, "second_requests": second_requests,
        "tensors": tensors, "len": length, "small_second": small_second,
        "storage_second": storage_second,
    }))
    """
)


def run_child(path: str, small: str, creds: dict[str, str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(ROOT / "python")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, path, small, json.dumps(creds)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"shoal child failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def make_small(env: s3bench.Env) -> str:
    """A one-tensor dataset: its open is mostly the provider's own cost."""
    import numpy as np

    path = f"s3://{s3bench.BUCKET}/open1-{uuid.uuid4().hex[:6]}"
    ds = shoal.empty(path, creds=env.creds)
    ds.create_tensor("x", dtype="float32")
    ds.x.extend(np.zeros((10, 4), dtype=np.float32))
    return path


def make_dataset(env: s3bench.Env, home: Path) -> tuple[str, bool]:
    """The 100-tensor dataset, written by deeplake when it is there (else by shoal)."""
    path = f"s3://{s3bench.BUCKET}/open100-{uuid.uuid4().hex[:6]}"
    if Path(s3bench.DL_PYTHON).exists():
        s3bench.run_dl(env, home, "create100", path)
        return path, True
    import numpy as np

    ds = shoal.empty(path, creds=env.creds)
    with ds:
        for i in range(TENSORS):
            ds.create_tensor(f"t{i:03d}", dtype="float32")
            ds[f"t{i:03d}"].extend(np.full((10, 4), i, dtype=np.float32))
    return path, False


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    s3bench.DATA.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="s3open-", dir=s3bench.DATA))
    env = s3bench.start_seaweedfs(work / "weed")
    home = work / "home"
    home.mkdir()
    try:
        path, have_dl = make_dataset(env, home)
        small = make_small(env)
        runs = [run_child(path, small, env.creds) for _ in range(ROUNDS)]
        assert all(r["tensors"] == TENSORS and r["len"] == 10 for r in runs), runs[0]
        best = min(runs, key=lambda r: r["first"])

        def med(key: str) -> float:
            return statistics.median(r[key] for r in runs)

        print(f"s3:// open of a {TENSORS}-tensor dataset, fresh processes, median of {ROUNDS}:")
        print(f"  import aiohttp + botocore + aiobotocore  {ms(med('import_cloud'))}")
        print(f"  import shoal (after them)                {ms(med('import_shoal'))}")
        print(f"  first open (load + len + tensor list)    {ms(med('first'))}")
        print(f"    of which: credentials resolution      {ms(best['phases']['resolve'])}")
        print(f"              client creation             {ms(best['phases']['client'])}")
        reqs = best["requests"]
        times = [r[2] for r in reqs]
        print(
            f"              {len(reqs)} requests, concurrent: first {ms(times[0]).strip()}, "
            f"median {ms(statistics.median(times)).strip()}, slowest {ms(max(times)).strip()}"
        )
        others = med("first") - best["phases"]["resolve"] - best["phases"]["client"]
        print(f"              requests + dataset logic    {ms(others)}")
        print(
            f"  second open, same process                {ms(med('second'))}  "
            f"({len(best['second_requests'])} requests)"
        )
        print(f"  second open of a 1-tensor dataset        {ms(med('small_second'))}")
        print(
            f"  second S3Storage.open (the provider)     {ms(med('storage_second'))}  [target <= 5 ms]"
        )
        fresh = med("import_cloud") + med("import_shoal") + med("first")
        print(f"  fresh process in all (imports + open)    {ms(fresh)}")
        if have_dl:
            theirs = min(s3bench.run_dl(env, home, "open", path)["seconds"] for _ in range(3))
            print(f"  deeplake 3.9.52 open (after its import)  {ms(theirs)}")
            print(
                f"  ratio deeplake / shoal first open: {theirs / med('first'):.2f}x  "
                "[target >= 10x]"
            )
    finally:
        env.weed.stop()


if __name__ == "__main__":
    main()
