"""The I/O ceilings: raw aiobotocore GETs of a dataset's chunk objects, whole, and raw PUTs of
the same bytes, each at the best concurrency of a sweep. Nothing of shoal's in the timed part."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import s3 as s3bench
import suite_shoal

SWEEP = (8, 16, 32, 64)
PUT_SWEEP = (8, 32)  # each point writes the whole dataset again


def _client(env: s3bench.Env, conc: int) -> Any:
    return s3bench.raw_client(env, conc)


async def chunk_keys(env: s3bench.Env, prefix: str) -> list[str]:
    """Every chunk object of the dataset under ``prefix`` (all its tensors)."""
    keys: list[str] = []
    async with _client(env, 4) as client:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=s3bench.BUCKET, Prefix=prefix.rstrip("/") + "/"
        )
        async for page in pages:
            keys.extend(o["Key"] for o in page.get("Contents", []) if "/chunks/" in o["Key"])
    return keys


async def _gets(env: s3bench.Env, keys: list[str], conc: int) -> tuple[float, int, float]:
    async with _client(env, conc) as client:
        sem = asyncio.Semaphore(conc)

        async def one(key: str) -> int:
            async with sem:
                resp = await client.get_object(Bucket=s3bench.BUCKET, Key=key)
                async with resp["Body"] as body:
                    return len(await body.read())

        cpu0 = suite_shoal.cpu_seconds()
        t0 = time.perf_counter()
        sizes = await asyncio.gather(*(one(k) for k in keys))
        seconds = time.perf_counter() - t0
        return seconds, sum(sizes), suite_shoal.cpu_seconds() - cpu0


async def _puts(env: s3bench.Env, bodies: list[bytes], prefix: str, conc: int) -> float:
    async with _client(env, conc) as client:
        sem = asyncio.Semaphore(conc)

        async def one(i: int, body: bytes) -> None:
            async with sem:
                await client.put_object(Bucket=s3bench.BUCKET, Key=f"{prefix}/{i}", Body=body)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
        return time.perf_counter() - t0


async def _bodies(env: s3bench.Env, keys: list[str]) -> list[bytes]:
    async with _client(env, 16) as client:
        sem = asyncio.Semaphore(16)

        async def one(key: str) -> bytes:
            async with sem:
                resp = await client.get_object(Bucket=s3bench.BUCKET, Key=key)
                async with resp["Body"] as body:
                    data: bytes = await body.read()
                    return data

        return list(await asyncio.gather(*(one(k) for k in keys)))


def best_get_concurrency(env: s3bench.Env, keys: list[str]) -> tuple[int, dict[int, float]]:
    sweep = {c: asyncio.run(_gets(env, keys, c))[0] for c in SWEEP}
    return min(sweep, key=lambda c: sweep[c]), sweep


def get_seconds(env: s3bench.Env, keys: list[str], conc: int) -> tuple[float, int, float]:
    """Seconds to GET every object of ``keys`` whole, the bytes read, and the CPU seconds
    the client spent on it."""
    return asyncio.run(_gets(env, keys, conc))


def put_ceiling(env: s3bench.Env, keys: list[str], scratch: str) -> tuple[float, int]:
    """The best seconds over a concurrency sweep to PUT the bytes of ``keys`` again, and that
    concurrency."""
    bodies = asyncio.run(_bodies(env, keys))
    sweep = {c: asyncio.run(_puts(env, bodies, f"{scratch}/{c}", c)) for c in PUT_SWEEP}
    conc = min(sweep, key=lambda c: sweep[c])
    return sweep[conc], conc


def chunk_keys_sync(env: s3bench.Env, prefix: str) -> list[str]:
    keys = asyncio.run(chunk_keys(env, prefix))
    if not keys:
        raise RuntimeError(f"no chunk objects under {prefix!r}")
    return keys
