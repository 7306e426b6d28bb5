"""Multipart uploads of the S3 provider: objects above ``multipart_threshold`` go up in parts.

Each request goes through the provider's one request path (retries, timeouts, error
mapping); parts are uploaded concurrently within a bound, and an upload that fails or is
cancelled is aborted so its parts stop costing storage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._s3 import S3Storage


async def put_multipart(store: S3Storage, key: str, full: str, view: memoryview) -> None:
    """Upload ``view`` in parts of ``options.part_size``, at most ``parts_in_flight`` at a
    time (memory stays bounded); a failed or cancelled upload is aborted."""
    size = len(view)
    part_size = max(store.options.part_size, -(-size // 10_000))  # S3: at most 10k parts

    async def create(client: Any, timeout: asyncio.Timeout) -> str:
        resp = await client.create_multipart_upload(Bucket=store.bucket, Key=full)
        return str(resp["UploadId"])

    upload_id = await store._call("put", key, create)
    etags: dict[int, str] = {}
    gate = asyncio.Semaphore(store.options.parts_in_flight)

    async def part(number: int, start: int) -> None:
        async with gate:
            chunk = bytes(view[start : start + part_size])

            async def fn(client: Any, timeout: asyncio.Timeout) -> None:
                resp = await client.upload_part(
                    Bucket=store.bucket,
                    Key=full,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                )
                etags[number] = str(resp["ETag"])

            await store._call("put", key, fn, nbytes=len(chunk))

    try:
        async with asyncio.TaskGroup() as tg:
            for number, start in enumerate(range(0, size, part_size), start=1):
                tg.create_task(part(number, start))

        async def complete(client: Any, timeout: asyncio.Timeout) -> None:
            await client.complete_multipart_upload(
                Bucket=store.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
                },
            )

        await store._call("put", key, complete)
    except BaseException as exc:
        # Failed or cancelled: drop the parts (they cost storage). Shielded, so a second
        # cancellation does not stop the abort half way.
        await _shielded(_abort(store, full, upload_id))
        if isinstance(exc, BaseExceptionGroup):
            first = exc.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None
        raise


async def _abort(store: S3Storage, full: str, upload_id: str) -> None:
    client = store._client
    if client is None:
        return
    with contextlib.suppress(Exception):
        async with asyncio.timeout(store.options.request_timeout):
            await client.abort_multipart_upload(Bucket=store.bucket, Key=full, UploadId=upload_id)


async def _shielded(aw: Awaitable[None]) -> None:
    task = asyncio.ensure_future(aw)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])  # finish the cleanup, then let the cancellation through
        raise
