"""Large objects to GCS: resumable uploads that resume from what GCS says it has.

An object above ``resumable_threshold`` bytes is sent in ``resumable_chunk``-sized pieces over
one upload session; a piece that fails is retried (through the provider's one retry policy)
after asking GCS how much it kept, and a session GCS has forgotten (404/410) is started again,
once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from ..errors import StorageError

if TYPE_CHECKING:
    from ._gcs import GcsStorage

__all__ = ["put_resumable", "request"]

log = logging.getLogger("shoal.storage.gcs")


class _UploadSessionLost(Exception):
    """The resumable upload session is gone (404/410): start a new one."""


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def request(
    store: GcsStorage,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    data: bytes | memoryview | str = b"",
    params: Mapping[str, str] | None = None,
    ok: tuple[int, ...] = (200, 201),
) -> tuple[int, Mapping[str, str], bytes]:
    """A raw request on our session (for what gcloud-aio-storage does not cover), raising
    ``ClientResponseError`` like it does for anything not in ``ok``."""
    http = store._http_now()
    auth = await store.auth.headers()
    async with http.request(
        method,
        url,
        headers={**headers, **auth},
        data=data,
        params=params,
        allow_redirects=False,
    ) as resp:
        body = await resp.read()
        if resp.status not in ok:
            text = body.decode("utf-8", "replace")
            raise aiohttp.ClientResponseError(
                resp.request_info,
                resp.history,
                status=resp.status,
                message=f"{resp.reason}: {text}",
                headers=resp.headers,
            )
        return resp.status, resp.headers, body


async def put_resumable(store: GcsStorage, key: str, name: str, data: memoryview) -> None:
    total = data.nbytes
    start_url = f"{store.endpoint}/upload/storage/v1/b/{quote(store.bucket, safe='')}/o"
    meta = json.dumps({"name": name})
    init_headers = {
        "Content-Type": "application/json; charset=UTF-8",
        "X-Upload-Content-Type": "application/octet-stream",
        "X-Upload-Content-Length": str(total),
    }
    stored: int | None = None
    for _round in range(2):

        async def initiate(_client: Any) -> str:
            _, headers, _ = await request(
                store,
                "POST",
                start_url,
                headers=init_headers,
                data=meta,
                params={"uploadType": "resumable", "name": name},
            )
            location = headers.get("Location")
            if not location:
                raise StorageError(
                    f"GCS started no resumable upload for {store._what(key)} "
                    "(no Location in the answer)"
                )
            return location

        session_uri = await store._call("write", key, initiate)
        try:
            stored = await _send_pieces(store, key, session_uri, data)
        except _UploadSessionLost:
            log.info("resumable upload session for %s was lost; restarting", store._what(key))
            continue
        if stored is None or stored == total:
            return
        log.warning(
            "GCS kept %d of %d bytes of %s; uploading it again", stored, total, store._what(key)
        )
    raise StorageError(
        f"could not write {store._what(key)}: the resumable upload ended with "
        f"{stored if stored is not None else 'an unknown number of'} of {total} bytes stored"
    )


async def _send_pieces(
    store: GcsStorage, key: str, session_uri: str, data: memoryview
) -> int | None:
    """Send ``data`` in pieces; return the size GCS reports for the finished object."""
    total = data.nbytes
    piece = store.options.resumable_chunk
    offset = 0
    ask_first = False  # the last piece failed: ask GCS where to resume before sending
    finished: dict[str, Any] = {}

    def persisted(headers: Mapping[str, str]) -> int:
        rng = headers.get("Range")  # "bytes=0-N": N+1 bytes are persisted
        return int(rng.rpartition("-")[2]) + 1 if rng else 0

    async def step(_client: Any) -> bool:
        nonlocal offset, ask_first
        if ask_first:
            status, headers, body = await request(
                store,
                "PUT",
                session_uri,
                headers={"Content-Range": f"bytes */{total}"},
                ok=(200, 201, 308, 404, 410),
            )
            if status in (404, 410):
                raise _UploadSessionLost
            if status in (200, 201):
                finished.update(_json_object(body))
                return True
            offset = persisted(headers)
            ask_first = False
        end = min(offset + piece, total)
        ask_first = True
        status, headers, body = await request(
            store,
            "PUT",
            session_uri,
            headers={
                "Content-Range": f"bytes {offset}-{end - 1}/{total}",
                "Content-Type": "application/octet-stream",
            },
            data=data[offset:end],
            ok=(200, 201, 308, 404, 410),
        )
        ask_first = False
        if status in (404, 410):
            raise _UploadSessionLost
        if status in (200, 201):
            finished.update(_json_object(body))
            return True
        offset = persisted(headers)
        return False

    while True:
        done = await store._call("write", key, step, nbytes=piece)
        if done:
            size = finished.get("size")
            return int(size) if size is not None else None
