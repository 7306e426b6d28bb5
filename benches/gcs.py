"""gcs:// provider throughput on loopback: fake-gcs-server behind the bearer-checking proxy of
the tests, with a fixed delay per request to stand in for network latency.

    .venv/bin/python benches/gcs.py [--latency-ms 20] [--objects 200] [--size 262144]

Compares shoal's GcsStorage (bounded concurrency, one pooled session) with plain
gcloud-aio-storage used one request at a time, the way a synchronous loader would, on the same
objects: whole-object reads, 4 KiB ranged reads, and writes. Prints requests/s and MiB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gcloud.aio.storage import Storage as GcloudStorage  # noqa: E402
from tests.servers.gcs_emulator import BearerProxy, FakeGcsServer, Fault, free_port  # noqa: E402
from tests.servers.gcs_google import FakeGoogle  # noqa: E402

from shoal.storage._gcs import GcsOptions, GcsStorage  # noqa: E402


async def run(latency: float, count: int, size: int, key_file: Path, endpoint: str) -> None:
    payload = os.urandom(size)
    keys = [f"obj/{i:05d}" for i in range(count)]
    opts = GcsOptions(concurrency=64)
    async with await GcsStorage.open("bench/shoal", creds=str(key_file), options=opts) as store:
        t0 = time.perf_counter()
        await store.put_many(dict.fromkeys(keys, payload))
        put_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        await store.get_many(keys)
        get_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        await asyncio.gather(*(store.get_range(k, 1000, 1000 + 4096) for k in keys))
        range_s = time.perf_counter() - t0
        token = await store.auth.token()

    class Fixed:
        async def get(self) -> str:
            return token

    async with GcloudStorage(token=Fixed(), api_root=endpoint, api_is_dev=False) as naive:  # type: ignore[arg-type]
        t0 = time.perf_counter()
        for k in keys:
            await naive.upload("bench", f"naive/{k}", io.BytesIO(payload))
        naive_put = time.perf_counter() - t0
        t0 = time.perf_counter()
        for k in keys:
            await naive.download("bench", f"naive/{k}")
        naive_get = time.perf_counter() - t0
        t0 = time.perf_counter()
        for k in keys:
            await naive.download("bench", f"naive/{k}", headers={"Range": "bytes=1000-5095"})
        naive_range = time.perf_counter() - t0

    mib = count * size / 2**20
    print(f"{count} objects of {size} B, {latency * 1000:.0f} ms per request")
    for name, ours, theirs, volume in (
        ("write", put_s, naive_put, mib),
        ("read whole", get_s, naive_get, mib),
        ("read 4 KiB range", range_s, naive_range, count * 4096 / 2**20),
    ):
        print(
            f"  {name:<18} shoal {count / ours:8.0f} req/s {volume / ours:8.1f} MiB/s   "
            f"gcloud-aio sequential {count / theirs:7.0f} req/s   ratio {theirs / ours:5.1f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--size", type=int, default=256 * 1024)
    args = ap.parse_args()
    google = FakeGoogle().start()
    port = free_port()
    emulator = FakeGcsServer(external_url=f"http://127.0.0.1:{port}").start()
    proxy = BearerProxy(emulator.url, google.principal, port=port).start()
    try:
        emulator.create_bucket("bench")
        sa = google.add_service_account("bench@test-proj.iam.gserviceaccount.com")
        with tempfile.TemporaryDirectory() as tmp:
            key_file = sa.write(Path(tmp) / "sa.json")
            proxy.inject(Fault(count=10**9, status=None, delay=args.latency_ms / 1000))
            os.environ["SHOAL_GCS_ENDPOINT_URL"] = proxy.url
            asyncio.run(run(args.latency_ms / 1000, args.objects, args.size, key_file, proxy.url))
    finally:
        proxy.stop()
        emulator.stop()
        google.stop()


if __name__ == "__main__":
    main()
