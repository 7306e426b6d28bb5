"""The data loader on s3:// (SeaweedFS on loopback) against the I/O ceiling and deeplake.

    .venv/bin/python benches/loader.py

Measured side by side in one run, on the same raw 224x224x3 uint8 images + labels
(SHOAL_BENCH_LOADER_SAMPLES, default 1500; batches of 64; best of SHOAL_BENCH_ROUNDS, default
3, interleaved):

* ceiling: raw aiobotocore whole-object GETs of the dataset's chunk objects, at the best
  concurrency of a sweep;
* shoal ``ds.loader(batch_size=64)`` (plain and shuffled), one epoch from a fresh process:
  samples/s, first batch, peak RSS; and ``ds.images[i:i+64].numpy()`` slicing as before;
* deeplake 3.9.52 on the same dataset (shoal writes the Deep Lake v3 format):
  ``ds.pytorch(batch_size=64)`` (Debian's CPU torch linked into its venv) and batch slicing.

Prints samples/s, MB/s and the ratios (loader / ceiling, loader / deeplake).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

BENCHES = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHES))

import s3 as s3bench  # noqa: E402  (SeaweedFS setup and the guarded deeplake prelude)
import shoal  # noqa: E402
from shoal.storage._s3 import S3Storage  # noqa: E402

N = int(os.environ.get("SHOAL_BENCH_LOADER_SAMPLES", "1500"))
ROUNDS = int(os.environ.get("SHOAL_BENCH_ROUNDS", "3"))
SIZE, BATCH = 224, 64
SAMPLE_BYTES = SIZE * SIZE * 3 + 4
DEBIAN_TORCH = Path("/usr/lib/python3/dist-packages/torch")

_DL_PRELUDE = s3bench._DL_SCRIPT.split("cmd, path = sys.argv[1], sys.argv[2]")[0]
_DL_LOADER = (
    _DL_PRELUDE
    + """
cmd, path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
ds = deeplake.load(path, creds=creds, read_only=True, verbose=False)
n = len(ds)
t0 = time.perf_counter()
count = 0
if cmd == "pytorch":
    workers = int(sys.argv[4])
    for b in ds.pytorch(batch_size=batch, num_workers=workers, tensors=["images", "labels"]):
        count += len(b["labels"])
elif cmd == "slices":
    for s in range(0, n, batch):
        count += len(ds.images[s : s + batch].numpy())
        ds.labels[s : s + batch].numpy()
print(json.dumps({"seconds": time.perf_counter() - t0, "samples": count}))
"""
)


def run_deeplake(env: s3bench.Env, home: Path, *args: str) -> dict[str, Any]:
    links = home / "torch-links"
    if DEBIAN_TORCH.is_dir() and not links.exists():
        links.mkdir()
        (links / "torch").symlink_to(DEBIAN_TORCH)
    return s3bench.run_dl(env, home, *args, script=_DL_LOADER, extra_env={"PYTHONPATH": str(links)})


# -- shoal, in a fresh process per measurement (peak RSS is the loader's own) ------------------


def child(mode: str, path: str, creds: dict[str, str]) -> None:
    ds = shoal.load(path, read_only=True, creds=creds)
    n = len(ds)
    t0 = time.perf_counter()
    first = None
    count = 0
    if mode == "slices":
        for s in range(0, n, BATCH):
            count += len(ds.images[s : s + BATCH].numpy())
            ds.labels[s : s + BATCH].numpy()
            first = first or time.perf_counter() - t0
        second = None
    else:
        loader = ds.loader(batch_size=BATCH, shuffle=mode == "shuffled", seed=0)
        for batch in loader:
            count += len(batch["labels"])
            first = first or time.perf_counter() - t0
        seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        assert sum(len(b["labels"]) for b in loader) == n  # the next epoch: prefetched
        second = time.perf_counter() - t1
        loader.close()
        assert count == n
        print(json.dumps(_child_result(seconds, first, count, second)))
        return
    print(json.dumps(_child_result(time.perf_counter() - t0, first, count, second)))


def _child_result(seconds: float, first: float | None, count: int, second: float | None) -> Any:
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "first": first, "samples": count, "epoch2": second, "rss": rss_mb}


def run_child(mode: str, path: str, env: s3bench.Env) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "_child", mode, path, json.dumps(env.creds)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"shoal side failed: {mode}\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the ceiling: raw aiobotocore GETs of the same chunk objects -------------------------------


async def raw_gets(env: s3bench.Env, keys: list[str], conc: int) -> float:
    from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
    from aiobotocore.session import AioSession  # type: ignore[import-untyped]

    config = AioConfig(
        region_name="us-east-1",
        s3={"addressing_style": "path"},
        max_pool_connections=conc,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    async with AioSession().create_client(
        "s3",
        endpoint_url=env.endpoint,
        aws_access_key_id=s3bench.ADMIN.access_key,
        aws_secret_access_key=s3bench.ADMIN.secret_key,
        config=config,
    ) as client:
        sem = asyncio.Semaphore(conc)

        async def one(key: str) -> int:
            async with sem:
                resp = await client.get_object(Bucket=s3bench.BUCKET, Key=key)
                async with resp["Body"] as body:
                    return len(await body.read())

        t0 = time.perf_counter()
        await asyncio.gather(*(one(k) for k in keys))
        return time.perf_counter() - t0


async def chunk_keys(env: s3bench.Env, prefix: str) -> list[str]:
    store = await S3Storage.open(s3bench.BUCKET, "", creds=env.creds)
    try:
        return [k for k in await store.list(prefix) if "/chunks/" in k]
    finally:
        await store.close()


def build(path: str, env: s3bench.Env) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (16, SIZE, SIZE, 3), dtype=np.uint8)
    ds = shoal.empty(path, overwrite=True, creds=env.creds)
    with ds:
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
        ds.create_tensor("labels", htype="class_label")
        for s in range(0, N, BATCH):
            k = min(BATCH, N - s)
            ds.images.extend(pixels[np.arange(s, s + k) % 16])
            ds.labels.extend((np.arange(s, s + k) % 10).astype(np.uint32))


def line(name: str, seconds: float, extra: str = "") -> None:
    print(
        f"  {name:<34} {N / seconds:>9,.0f} samples/s {N * SAMPLE_BYTES / seconds / 1e6:>8,.0f} "
        f"MB/s {extra}",
        flush=True,
    )


def main() -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    s3bench.DATA.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="loader-bench-", dir=s3bench.DATA))
    print(
        f"loader benchmark: {N} images {SIZE}x{SIZE}x3 + labels, batches of {BATCH}, "
        f"{os.cpu_count()} cores, SeaweedFS on loopback, best of {ROUNDS}",
        flush=True,
    )
    env = s3bench.start_seaweedfs(workdir / "weed")
    try:
        home = workdir / "deeplake-home"
        home.mkdir()
        prefix = f"loader-{uuid.uuid4().hex[:6]}"
        path = f"s3://{s3bench.BUCKET}/{prefix}"
        build(path, env)
        keys = asyncio.run(chunk_keys(env, prefix + "/"))
        sweep = {c: asyncio.run(raw_gets(env, keys, c)) for c in (8, 16, 32, 64)}
        conc = min(sweep, key=lambda c: sweep[c])
        print(
            "  raw GET sweep (samples/s by concurrency): "
            + ", ".join(f"{c}: {N / t:,.0f}" for c, t in sweep.items()),
            flush=True,
        )
        has_torch = DEBIAN_TORCH.is_dir()
        runs: dict[str, list[Any]] = {}
        for _ in range(ROUNDS):
            runs.setdefault("raw", []).append(asyncio.run(raw_gets(env, keys, conc)))
            for mode in ("loader", "shuffled", "slices"):
                runs.setdefault(mode, []).append(run_child(mode, path, env))
            if has_torch:
                for w in ("0", "2"):
                    got = run_deeplake(env, home, "pytorch", path, str(BATCH), w)
                    runs.setdefault(f"dl_pytorch{w}", []).append(got)
            runs.setdefault("dl_slices", []).append(
                run_deeplake(env, home, "slices", path, str(BATCH))
            )
        raw = min(runs["raw"])
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items() if k != "raw"}
        line(f"raw aiobotocore GETs @{conc}", raw, "(the I/O ceiling)")
        for mode in ("loader", "shuffled", "slices"):
            r = best[mode]
            extra = f"first batch {r['first'] * 1000:.0f} ms, peak RSS {r['rss']:.0f} MB"
            if r["epoch2"]:
                extra += f", next epoch {N / r['epoch2']:,.0f} samples/s"
            line(f"shoal {mode}", r["seconds"], extra)
        dl_keys = [k for k in ("dl_pytorch0", "dl_pytorch2", "dl_slices") if k in best]
        for k in dl_keys:
            line(f"deeplake 3.9.52 {k[3:]}", best[k]["seconds"])
        ours = best["loader"]["seconds"]
        print(
            f"  loader / ceiling: {raw / ours:.2f}x   loader shuffled / ceiling: "
            f"{raw / best['shuffled']['seconds']:.2f}x   loader / slicing: "
            f"{best['slices']['seconds'] / ours:.2f}x",
            flush=True,
        )
        for k in dl_keys:
            print(f"  loader / deeplake {k[3:]}: {best[k]['seconds'] / ours:.1f}x", flush=True)
        if not has_torch:
            print("  (deeplake's pytorch() skipped: Debian's python3-torch is not installed)")
    finally:
        env.weed.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
    else:
        main()
