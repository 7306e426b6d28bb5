"""s3:// benchmarks against a real SeaweedFS on loopback. Not tests: they print figures and the
ratio to the competitor (> 1 means shoal is faster; targets in brackets).

    .venv/bin/python benches/s3.py                 # everything
    .venv/bin/python benches/s3.py ranged open     # some of: ranged open rw

* ranged: ranged-GET throughput through shoal's S3 provider (default options) vs raw
  aiobotocore issuing the same requests, at its best concurrency of a sweep  [>= 0.9x]
* open:   opening a 100-tensor dataset (written by deeplake) on s3:// vs deeplake 3.9.52
          [shoal's time <= 1/10 of deeplake's]
* rw:     writing then reading ~1 GB of 224x224x3 images on s3:// vs deeplake  [5x, 10x]

deeplake runs in its own venv (.ci/setup-deeplake-venv; SHOAL_DEEPLAKE_PYTHON overrides) with a
private HOME, no telemetry, and a socket guard refusing anything but loopback. SeaweedFS data
lives under $SHOAL_BENCH_DIR (default ./bench-data); rw needs ~3 GB free there.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.seaweedfs import Identity, SeaweedFS, wait_writable  # noqa: E402

import shoal  # noqa: E402
from shoal import _native  # noqa: E402
from shoal.storage._s3 import S3Options, S3Storage  # noqa: E402

DATA = Path(os.environ.get("SHOAL_BENCH_DIR", ROOT / "bench-data"))
DL_PYTHON = os.environ.get("SHOAL_DEEPLAKE_PYTHON", str(ROOT / ".venvs/deeplake/bin/python"))
ADMIN = Identity("admin", "AKIDBENCHADMIN00", "bench-admin-secret-0000000000000", ["Admin"])
BUCKET = "shoal-bench"
MiB = 1 << 20
ROUNDS = int(os.environ.get("SHOAL_BENCH_ROUNDS", "5"))


def report(name: str, ours: float, theirs: float, unit: str, target: str, who: str) -> None:
    ratio = ours / theirs
    print(
        f"{name:<40} shoal {ours:>10,.2f} {unit:<9} {who} {theirs:>10,.2f} {unit:<9} "
        f"ratio {ratio:6.2f}x  (target {target})",
        flush=True,
    )


class Env:
    def __init__(self, weed: SeaweedFS) -> None:
        self.weed = weed
        self.endpoint = weed.endpoint
        self.creds = {
            "aws_access_key_id": ADMIN.access_key,
            "aws_secret_access_key": ADMIN.secret_key,
            "endpoint_url": weed.endpoint,
        }


def start_seaweedfs(workdir: Path) -> Env:
    weed = SeaweedFS(workdir, identities=[ADMIN], autocreate_buckets=False).start()
    import botocore.session  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    client = botocore.session.Session().create_client(
        "s3",
        endpoint_url=weed.endpoint,
        region_name="us-east-1",
        aws_access_key_id=ADMIN.access_key,
        aws_secret_access_key=ADMIN.secret_key,
        config=Config(
            s3={"addressing_style": "path"}, request_checksum_calculation="when_required"
        ),
    )
    wait_writable(client, BUCKET)
    return Env(weed)


# ----------------------------------------------------------------------------------------------
# ranged GETs: shoal's provider vs raw aiobotocore


@asynccontextmanager
async def raw_client(
    env: Env, conc: int, *, unsigned_bodies: bool = False, retry: bool = True
) -> AsyncIterator[Any]:
    """A plain aiobotocore client with the admin's keys and ``conc`` pooled connections: the
    raw side of every I/O ceiling. ``unsigned_bodies``: PUT bodies are not hashed to sign
    them (as shoal does not hash them on loopback); ``retry=False``: one attempt per call."""
    from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
    from aiobotocore.session import AioSession  # type: ignore[import-untyped]

    config = AioConfig(
        region_name="us-east-1",
        s3={"addressing_style": "path", "payload_signing_enabled": not unsigned_bodies},
        max_pool_connections=conc,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries=None if retry else {"total_max_attempts": 1},
    )
    async with AioSession().create_client(
        "s3",
        endpoint_url=env.endpoint,
        aws_access_key_id=ADMIN.access_key,
        aws_secret_access_key=ADMIN.secret_key,
        config=config,
    ) as client:
        yield client


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _raw_ranged(env: Env, key: str, ranges: list[tuple[int, int]], conc: int) -> float:
    async with raw_client(env, conc, retry=False) as client:
        sem = asyncio.Semaphore(conc)

        async def one(s: int, e: int) -> int:
            async with sem:
                resp = await client.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={s}-{e - 1}")
                async with resp["Body"] as body:
                    return len(await body.read())

        await one(*ranges[0])  # warm the pool
        t0 = time.perf_counter()
        sizes = await asyncio.gather(*(one(s, e) for s, e in ranges))
        elapsed = time.perf_counter() - t0
    assert sum(sizes) == sum(e - s for s, e in ranges)
    return elapsed


async def _shoal_ranged(env: Env, key: str, ranges: list[tuple[int, int]]) -> float:
    store = await S3Storage.open(BUCKET, "", creds=env.creds, options=S3Options())
    try:
        await store.get_range(key, *ranges[0])  # warm the pool
        t0 = time.perf_counter()
        got = await asyncio.gather(*(store.get_range(key, s, e) for s, e in ranges))
        elapsed = time.perf_counter() - t0
    finally:
        await store.close()
    assert sum(map(len, got)) == sum(e - s for s, e in ranges)
    return elapsed


def bench_ranged(env: Env) -> None:
    """512 ranged GETs of 256 KiB at random offsets of a 128 MiB object."""
    size, n, span = 128 * MiB, 512, 256 * 1024
    key = "ranged/object.bin"
    data = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()

    async def put() -> None:
        store = await S3Storage.open(BUCKET, "", creds=env.creds)
        await store.put(key, data)
        await store.close()

    asyncio.run(put())
    rng = random.Random(1)
    ranges = [(o, o + span) for o in (rng.randrange(0, size - span) for _ in range(n))]
    total_mb = n * span / MiB

    def once(fn: Callable[[], Coroutine[Any, Any, float]]) -> float:
        return asyncio.run(fn())

    def raw_at(c: int) -> Callable[[], Coroutine[Any, Any, float]]:
        return lambda: _raw_ranged(env, key, ranges, c)

    # Find raw aiobotocore's best concurrency, then measure it and shoal in alternation (the
    # machine is shared: interleaving spreads the noise evenly), best of ROUNDS each.
    sweep = {c: once(raw_at(c)) for c in (8, 16, 32, 64, 128)}
    conc = min(sweep.items(), key=lambda kv: kv[1])[0]
    raw_times, our_times = [], []
    for _ in range(ROUNDS):
        raw_times.append(once(raw_at(conc)))
        our_times.append(once(lambda: _shoal_ranged(env, key, ranges)))
    raw, ours = min(raw_times), min(our_times)
    print(
        "  raw aiobotocore sweep (MiB/s by concurrency): "
        + ", ".join(f"{c}: {total_mb / t:,.0f}" for c, t in sweep.items())
    )
    report(
        f"ranged GET 256 KiB x{n}",
        total_mb / ours,
        total_mb / raw,
        "MiB/s",
        ">= 0.9x",
        f"aiobotocore@{conc}",
    )


# ----------------------------------------------------------------------------------------------
# the deeplake side, run in its own venv

_DL_SCRIPT = textwrap.dedent(
    r"""
    import json, os, socket, sys, time
    home = os.environ["HOME"]
    os.makedirs(os.path.join(home, ".activeloop"), exist_ok=True)
    with open(os.path.join(home, ".activeloop", "pypi_version.json"), "w") as f:
        json.dump(["3.9.52", time.time()], f)  # no version check against pypi
    with open(os.path.join(home, ".activeloop", "reporting_config.json"), "w") as f:
        json.dump({"consent": False, "client_id": "shoal-bench"}, f)
    _gai, _conn, _conn_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex
    def _ok(h):
        h = h.decode() if isinstance(h, bytes) else str(h)
        return h in ("localhost", "::1") or h.startswith("127.")
    def gai(h, *a, **k):
        if h is not None and not _ok(h):
            raise OSError(f"bench guard: refused {h!r}")
        return _gai(h, *a, **k)
    def conn(s, a):
        if s.family in (socket.AF_INET, socket.AF_INET6) and not _ok(a[0]):
            raise OSError(f"bench guard: refused {a!r}")
        return _conn(s, a)
    def conn_ex(s, a):
        if s.family in (socket.AF_INET, socket.AF_INET6) and not _ok(a[0]):
            raise OSError(f"bench guard: refused {a!r}")
        return _conn_ex(s, a)
    socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex = gai, conn, conn_ex
    import warnings; warnings.filterwarnings("ignore")
    import deeplake, numpy as np
    creds = json.loads(os.environ["SHOAL_BENCH_CREDS"])
    cmd, path = sys.argv[1], sys.argv[2]
    def images(start, k, size):
        rng = np.random.default_rng(0)
        base = rng.integers(0, 256, size=(16, size, size, 3), dtype=np.uint8)
        return base[np.arange(start, start + k) % 16]
    if cmd == "create100":
        ds = deeplake.empty(path, creds=creds, overwrite=True, verbose=False)
        with ds:
            for i in range(100):
                ds.create_tensor(f"t{i:03d}", dtype="float32")
                ds[f"t{i:03d}"].extend(np.full((10, 4), i, dtype=np.float32))
        print(json.dumps({"ok": True}))
    elif cmd == "open":
        t0 = time.perf_counter()
        ds = deeplake.load(path, creds=creds, read_only=True, verbose=False)
        n, names = len(ds), sorted(ds.tensors)
        print(json.dumps({"seconds": time.perf_counter() - t0, "tensors": len(names), "len": n}))
    elif cmd == "ingest":
        n, size, batch = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        images(0, 1, size)
        t0 = time.perf_counter()
        ds = deeplake.empty(path, creds=creds, overwrite=True, verbose=False)
        with ds:
            ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
            ds.create_tensor("labels", htype="class_label")
            for s in range(0, n, batch):
                k = min(batch, n - s)
                ds.images.extend(images(s, k, size))
                ds.labels.extend((np.arange(s, s + k) % 10).astype(np.uint32))
        print(json.dumps({"seconds": time.perf_counter() - t0}))
    elif cmd == "read":
        batch = int(sys.argv[3])
        ds = deeplake.load(path, creds=creds, read_only=True, verbose=False)
        n = len(ds)
        t0 = time.perf_counter()
        checksum = 0
        for s in range(0, n, batch):
            arr = ds.images[s : s + batch].numpy()
            checksum += int(arr[:, 0, 0, 0].astype(np.int64).sum())
        print(json.dumps({"seconds": time.perf_counter() - t0, "samples": n, "checksum": checksum}))
    """
)


def dl_child_env(env: Env, home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the deeplake side: offline, a private HOME, the bench's creds."""
    scrub = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "ACTIVELOOP_TOKEN")
    child = {k: v for k, v in os.environ.items() if k not in scrub and not k.startswith("AWS_")}
    child.update(
        {
            "HOME": str(home),
            "BUGGER_OFF": "yes",
            "PYTHONNOUSERSITE": "1",
            "NO_PROXY": "*",
            "AWS_EC2_METADATA_DISABLED": "true",
            "SHOAL_BENCH_CREDS": json.dumps(env.creds),
            **(extra or {}),
        }
    )
    return child


def run_dl(
    env: Env,
    home: Path,
    *args: str,
    timeout: float = 1800,
    script: str = _DL_SCRIPT,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``script`` (the deeplake side) in the deeplake venv, offline, with a private HOME
    and the bench's credentials; its last line of output, as JSON."""
    proc = subprocess.run(
        [DL_PYTHON, "-c", script, *args],
        env=dl_child_env(env, home, extra_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"deeplake side failed: {args}\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------------------------------------
# opening a 100-tensor dataset


def bench_open(env: Env, home: Path) -> None:
    path = f"s3://{BUCKET}/open100-{uuid.uuid4().hex[:6]}"
    run_dl(env, home, "create100", path)
    theirs = min(run_dl(env, home, "open", path)["seconds"] for _ in range(3))

    def open_once() -> float:
        t0 = time.perf_counter()
        ds = shoal.load(path, read_only=True, creds=env.creds)
        names = sorted(ds.tensors)
        n = len(ds)
        elapsed = time.perf_counter() - t0
        assert len(names) == 100 and n == 10, (len(names), n)
        return elapsed

    first = open_once()  # includes loading the S3 service model once per process
    ours = min(open_once() for _ in range(5))
    print(f"  shoal first open in this process: {first * 1000:.1f} ms")
    report("open 100-tensor dataset", 1 / ours, 1 / theirs, "opens/s", ">= 10x", "deeplake")


# ----------------------------------------------------------------------------------------------
# ~1 GB write and read


def _images(start: int, k: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(0)  # the same pixels as the deeplake side
    base = rng.integers(0, 256, size=(16, size, size, 3), dtype=np.uint8)
    return base[np.arange(start, start + k) % 16]


def bench_rw(env: Env, home: Path) -> None:
    size, batch = 224, 64
    n = int(os.environ.get("SHOAL_BENCH_S3_SAMPLES", "6600"))  # 6600 x 150 KB = ~1 GB
    gb = n * size * size * 3 / 1e9
    tag = uuid.uuid4().hex[:6]
    ours_path, dl_path = f"s3://{BUCKET}/rw-shoal-{tag}", f"s3://{BUCKET}/rw-deeplake-{tag}"
    pixels = _images(0, 16, size)

    t0 = time.perf_counter()
    ds = shoal.empty(ours_path, overwrite=True, creds=env.creds)
    with ds:
        ds.create_tensor("images", htype="image", dtype="uint8", sample_compression=None)
        ds.create_tensor("labels", htype="class_label")
        for s in range(0, n, batch):
            k = min(batch, n - s)
            ds.images.extend(pixels[np.arange(s, s + k) % 16])
            ds.labels.extend((np.arange(s, s + k) % 10).astype(np.uint32))
    ours_write = time.perf_counter() - t0
    dl_write = run_dl(env, home, "ingest", dl_path, str(n), str(size), str(batch))["seconds"]
    report(
        f"write {gb:.2f} GB images to s3://",
        gb / ours_write,
        gb / dl_write,
        "GB/s",
        ">= 5x",
        "deeplake",
    )

    ro = shoal.load(ours_path, read_only=True, creds=env.creds)
    t0 = time.perf_counter()
    checksum = 0
    for s in range(0, n, batch):
        arr = ro.images[s : s + batch].numpy()
        checksum += int(arr[:, 0, 0, 0].astype(np.int64).sum())
    ours_read = time.perf_counter() - t0
    dl = run_dl(env, home, "read", dl_path, str(batch))
    assert dl["checksum"] == checksum, (dl["checksum"], checksum)
    report(
        f"read {gb:.2f} GB images from s3://",
        gb / ours_read,
        gb / dl["seconds"],
        "GB/s",
        ">= 10x",
        "deeplake",
    )


BENCHES = ("ranged", "open", "rw")


def main() -> None:
    names = sys.argv[1:] or list(BENCHES)
    unknown = set(names) - set(BENCHES)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; choose from {BENCHES}")
    if _native.build_profile != "release":
        print("warning: shoal._native is a debug build; numbers are meaningless", file=sys.stderr)
    needs_dl = {"open", "rw"} & set(names)
    if needs_dl and not os.access(DL_PYTHON, os.X_OK):
        raise SystemExit(f"no deeplake python at {DL_PYTHON}: run .ci/setup-deeplake-venv")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]  # no host credentials or endpoints in the way
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    DATA.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="s3-bench-", dir=DATA))
    print(f"shoal s3:// benchmarks ({os.cpu_count()} cores, SeaweedFS on loopback)", flush=True)
    env = start_seaweedfs(workdir / "weed")
    try:
        home = workdir / "deeplake-home"
        home.mkdir()
        if "ranged" in names:
            bench_ranged(env)
        if "open" in names:
            bench_open(env, home)
        if "rw" in names:
            bench_rw(env, home)
    finally:
        env.weed.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
