"""Reading linked JPEGs from SeaweedFS with a managed creds key, against deeplake 3.9.52
reading the same links and against raw concurrent aiobotocore GETs of the same objects.
Not a test: it prints figures and ratios (> 1 means shoal is faster; targets in brackets).

    .venv/bin/python benches/links.py [--files 2000] [--rounds 3]

The platform runs in this process (local storage root) with an org whose creds key holds the
SeaweedFS keys (static keys handed out: the admin opted in); the shoal dataset is
``hub://org/links`` with that key managed, so no key is in the reading code. deeplake reads a
local dataset with the same links and the key populated (its venv: .ci/setup-deeplake-venv).
Targets: >= 5x deeplake, >= 0.7x raw GETs (shoal decodes every image; raw GETs only fetch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

import shoal  # noqa: E402
from s3 import BUCKET, Env, cpu_seconds, report, run_dl, start_seaweedfs  # noqa: E402
from shoal import _loop, _native  # noqa: E402
from shoal.platform.config import ServerConfig  # noqa: E402
from shoal.platform.server import BackgroundServer  # noqa: E402

CONCURRENCY = 64

_DL_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {!r})
    import dl_offline  # noqa: F401  (offline guard, then deeplake)
    import deeplake
    creds = json.loads(__import__("os").environ["SHOAL_BENCH_CREDS"])
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "write":
        urls = json.loads(open(sys.argv[3]).read())
        ds = deeplake.empty(path, overwrite=True)
        ds.create_tensor("im", htype="link[image]", sample_compression="jpeg", verify=False)
        ds.add_creds_key("k")
        ds.populate_creds("k", creds)
        ds.im.extend([deeplake.link(u, creds_key="k") for u in urls])
        print(json.dumps({{"n": len(ds.im)}}))
    else:
        ds = deeplake.load(path, read_only=True)
        ds.populate_creds("k", creds)
        t0, c0 = time.perf_counter(), time.process_time()
        total = 0
        for i in range(len(ds.im)):
            total += int(ds.im[i].numpy().shape[0])
        print(json.dumps({{
            "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "rows": total
        }}))
    """.format(str(ROOT / "tests" / "interop"))
)


def _jpegs(k: int = 16, size: int = 320) -> list[bytes]:
    """Photos stand-ins of about 100 KB: smooth colour blocks with strong pixel noise."""
    rng = np.random.default_rng(1)
    out = []
    for _ in range(k):
        base = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        img = np.repeat(np.repeat(base, 8, 0), 8, 1).astype(np.int16)
        img = (img + rng.integers(-128, 128, img.shape)).clip(0, 255).astype(np.uint8)
        out.append(_native.jpeg_encode(img, 92))
    return out


def _decode_cpu(blobs: list[bytes], rounds: int = 8) -> float:
    """CPU seconds the native decoder takes per image, on one thread."""
    t0 = time.thread_time()
    for _ in range(rounds):
        for b in blobs:
            _native.jpeg_decode(b)
    return (time.thread_time() - t0) / (rounds * len(blobs))


async def _client(env: Env) -> Any:
    from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
    from aiobotocore.session import AioSession  # type: ignore[import-untyped]

    config = AioConfig(
        region_name="us-east-1",
        s3={"addressing_style": "path"},
        max_pool_connections=CONCURRENCY,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return AioSession().create_client(
        "s3",
        endpoint_url=env.endpoint,
        aws_access_key_id=env.creds["aws_access_key_id"],
        aws_secret_access_key=env.creds["aws_secret_access_key"],
        config=config,
    )


async def _upload(env: Env, keys: list[str], blobs: list[bytes]) -> None:
    async with await _client(env) as s3:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def put(i: int, key: str) -> None:
            async with sem:
                await s3.put_object(Bucket=BUCKET, Key=key, Body=blobs[i % len(blobs)])

        await asyncio.gather(*(put(i, k) for i, k in enumerate(keys)))


async def _raw_gets(env: Env, keys: list[str]) -> float:
    async with await _client(env) as s3:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def get(key: str) -> int:
            async with sem:
                resp = await s3.get_object(Bucket=BUCKET, Key=key)
                async with resp["Body"] as body:
                    return len(await body.read())

        await get(keys[0])
        t0 = time.perf_counter()
        sizes = await asyncio.gather(*(get(k) for k in keys))
        elapsed = time.perf_counter() - t0
    assert all(sizes)
    return elapsed


def _thread_cpu() -> dict[str, tuple[float, float]]:
    """User and system CPU seconds so far of this process's threads, summed by role: the
    event loop that fetches (``shoal-io``), the pool that decodes (``shoal-cpu``), the rest."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, tuple[float, float]] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        name = names.get(int(tid), "")
        role = next((r for r in ("shoal-io", "shoal-cpu") if name.startswith(r)), "other")
        user, system = out.get(role, (0.0, 0.0))
        out[role] = (user + int(fields[11]) / tick, system + int(fields[12]) / tick)
    return out


@dataclass
class Run:
    """One read: its wall time, the reader's CPU time and the store's (SeaweedFS's)."""

    wall: float
    cpu: float
    store_cpu: float
    #: The reader's CPU by thread role: (user, system) seconds.
    threads: dict[str, tuple[float, float]] | None = None

    @property
    def floor(self) -> float:
        """The least wall time this much CPU takes on this machine's cores."""
        return (self.cpu + self.store_cpu) / (os.cpu_count() or 1)


def _call(url: str, method: str, path: str, body: Any, token: str | None = None) -> Any:
    req = urllib.request.Request(
        url + path, method=method, data=json.dumps(body).encode() if body is not None else None
    )
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def _org(url: str, env: Env) -> tuple[str, str]:
    """A user, an org and a creds key holding the SeaweedFS keys (static keys allowed)."""
    body = {"username": "bench", "email": "bench@example.com", "password": "correct horse"}
    _call(url, "POST", "/api/user/register", body)
    token = _call(
        url, "POST", "/api/user/token", {"username": "bench", "password": body["password"]}
    )["token"]
    _call(url, "POST", "/api/organizations", {"name": "benchorg"}, token)
    key = {"name": "k", "kind": "aws-keys", "secret": env.creds, "allow_static": True}
    _call(url, "POST", "/api/org/benchorg/creds", key, token)
    return "benchorg", token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shoal-links-bench-"))
    env = start_seaweedfs(work / "weed")
    server = BackgroundServer(
        ServerConfig.load(
            None, env={}, data_dir=str(work / "platform"), port=0, log_level="warning"
        )
    ).start()
    try:
        blobs = _jpegs()
        print(f"{args.files} linked JPEGs of {np.mean([len(b) for b in blobs]) / 1000:.0f} KB")
        keys = [f"files/{i:05d}.jpg" for i in range(args.files)]
        asyncio.run(_upload(env, keys, blobs))
        urls = [f"s3://{BUCKET}/{k}" for k in keys]

        os.environ["SHOAL_PLATFORM_URL"] = server.url
        org, token = _org(server.url, env)
        ds = shoal.empty(f"hub://{org}/links", token=token)
        ds.create_tensor("im", htype="link[image]", sample_compression="jpeg", verify=False)
        ds.add_creds_key("k", managed=True)
        ds.im.extend([shoal.link(u, creds_key="k") for u in urls])

        weed_pid = env.weed.pid

        def shoal_read() -> Run:
            fresh = shoal.load(f"hub://{org}/links", token=token, read_only=True)
            c0, w0, th0 = time.process_time(), cpu_seconds(weed_pid), _thread_cpu()
            t0 = time.perf_counter()
            arrays = fresh.im.numpy(aslist=True)
            elapsed = time.perf_counter() - t0
            th1 = _thread_cpu()
            threads = {
                role: (u - th0.get(role, (0.0, 0.0))[0], s - th0.get(role, (0.0, 0.0))[1])
                for role, (u, s) in th1.items()
            }
            run = Run(elapsed, time.process_time() - c0, cpu_seconds(weed_pid) - w0, threads)
            assert len(arrays) == args.files and arrays[0].shape == (320, 320, 3)
            return run

        def deeplake_read() -> Run:
            w0 = cpu_seconds(weed_pid)
            out = run_dl(env, home, "read", dl_path, script=_DL_SCRIPT)
            return Run(out["seconds"], out["cpu"], cpu_seconds(weed_pid) - w0)

        home = work / "dl-home"
        home.mkdir()
        url_file = work / "urls.json"
        url_file.write_text(json.dumps(urls))
        dl_path = str(work / "dl-links")
        run_dl(env, home, "write", dl_path, str(url_file), script=_DL_SCRIPT)

        def shoal_fetch() -> float:
            """The same files fetched, not decoded: what the raw GETs do."""
            fresh = shoal.load(f"hub://{org}/links", token=token, read_only=True)
            engine = fresh._engine.tensor("im")
            idx = np.arange(args.files)
            t0 = time.perf_counter()
            blobs = _loop.run(engine.read_blobs(idx))
            elapsed = time.perf_counter() - t0
            assert len(blobs) == args.files and all(blobs)
            return elapsed

        shoal_runs: list[Run] = []
        dl_runs: list[Run] = []
        fetch_times, raw_times = [], []
        for r in range(args.rounds):
            shoal_runs.append(shoal_read())
            fetch_times.append(shoal_fetch())
            raw_times.append(asyncio.run(_raw_gets(env, keys)))
            if r < 2:  # deeplake reads one file at a time: two rounds are plenty
                dl_runs.append(deeplake_read())
        best = min(shoal_runs, key=lambda x: x.wall)
        dl_best = min(dl_runs, key=lambda x: x.wall)
        ours, raw, theirs = best.wall, min(raw_times), dl_best.wall
        n = args.files
        fetch = min(fetch_times)
        print(
            f"  shoal {ours:.2f}s (fetch only {fetch:.2f}s)  raw GETs {raw:.2f}s  "
            f"deeplake {theirs:.2f}s (best of rounds; load average "
            f"{os.getloadavg()[0]:.2f})"
        )
        cores = os.cpu_count() or 1
        for who, run in (("shoal", best), ("deeplake", dl_best)):
            print(
                f"  {who:<8} CPU: reader {run.cpu:.2f}s + SeaweedFS {run.store_cpu:.2f}s = "
                f"{run.cpu + run.store_cpu:.2f}s; on {cores} cores at least {run.floor:.2f}s "
                f"(wall {run.wall:.2f}s)"
            )
        decode = _decode_cpu(blobs) * n
        print(
            f"  of shoal's reader CPU, decoding the JPEGs alone is {decode:.2f}s "
            f"({decode / n * 1e3:.2f} ms each on one core)"
        )
        # Where the reader's CPU went, by thread (system time on the decode threads is mostly
        # first touches of the new arrays' pages; on the loop, socket reads and writes).
        split = ", ".join(
            f"{role} {u:.2f}s user + {s:.2f}s sys"
            for role, (u, s) in sorted((best.threads or {}).items())
            if u + s > 0
        )
        print(f"  shoal's reader CPU by thread: {split}")
        # deeplake waits for each GET before decoding, so its reader's and the store's CPU
        # add up; shoal's can at best be spread over every core. Times from one run on a
        # shared machine are inflated alike, so this bound holds better than the wall times.
        bound = (dl_best.cpu + dl_best.store_cpu) / best.floor
        print(
            f"  CPU-bound ratio (deeplake's CPU in sequence / shoal's over {cores} cores): "
            f"{bound:.2f}x; 5x deeplake here needs shoal <= {theirs / 5:.2f}s wall"
        )
        report(
            "linked JPEGs, managed key, decoded",
            n / ours,
            n / theirs,
            "files/s",
            ">= 5x",
            "deeplake",
        )
        report(
            "linked JPEGs vs raw aiobotocore GETs",
            n / ours,
            n / raw,
            "files/s",
            ">= 0.7x",
            "raw GET ",
        )
    finally:
        server.stop()
        env.weed.stop()


if __name__ == "__main__":
    main()
