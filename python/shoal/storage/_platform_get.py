"""The platform's GETs on the lean HTTP client of the S3 read path (:mod:`._http_get`).

A ``hub://`` open whose grant is not cached waits on one ``GET .../creds``; through aiohttp
the request costs the client more CPU than the platform spends answering it (its request and
response objects, header multidicts, the cookie jar, the redirect machinery). Here a GET is
the request head written out, sent on a pooled keep-alive connection, and the body read back:
:class:`LeanPlatformGet` is the transport :class:`~shoal.auth.platform_api.PlatformClient`
sends its GETs through when :mod:`._hub` opens a dataset (calls with a body stay on aiohttp).

What goes wrong is raised as :mod:`shoal.auth.platform_api` expects of a transport:
``ConnectionRefusedError`` when no connection can be made, another ``ConnectionError`` for one
dropped before the whole answer arrived (an idempotent GET is sent once more), ``TimeoutError``
for silence.
"""

from __future__ import annotations

import contextlib
import functools
import urllib.parse
from collections.abc import Mapping

from botocore.exceptions import IncompleteReadError  # type: ignore[import-untyped]

from ..auth.platform_api import CONNECT_TIMEOUT, TIMEOUT
from ._cloud import ClientCache
from ._http_get import GetPool, Origin
from ._s3_lean import as_bytes

__all__ = ["LEAN_GET", "LeanPlatformGet"]

#: Connections to one platform at once, per event loop (a loader's workers reading through it).
_LIMIT = 16
_pools: ClientCache[GetPool] = ClientCache("platform-lean", max_idle=1)


async def _new_pool(stack: contextlib.AsyncExitStack) -> GetPool:
    pool = GetPool(_LIMIT, CONNECT_TIMEOUT, TIMEOUT)
    stack.push_async_callback(pool.close)
    return pool


@functools.lru_cache(maxsize=64)
def _where(url: str) -> tuple[Origin, str, str]:
    """The origin of the platform at ``url``, its ``Host`` header and its base path."""
    parts = urllib.parse.urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    authority = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        authority += f":{parts.port}"
    origin = Origin(host, parts.port or (443 if tls else 80), tls)
    return origin, authority, parts.path.rstrip("/")


class LeanPlatformGet:
    """GETs to a platform on the running loop's pooled keep-alive connections."""

    async def get(self, url: str, target: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """``GET url + target`` (``target``: the path and query, already encoded); the status
        and the whole body."""
        origin, authority, base = _where(url)
        lines = [f"GET {base}{target} HTTP/1.1", f"Host: {authority}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        lease = await _pools.acquire("platform", _new_pool)
        try:
            response = await lease.client.get(origin, head)
        except IncompleteReadError as exc:  # cut off mid-body: the connection dropped
            raise ConnectionResetError(f"the connection closed mid-answer ({exc})") from None
        finally:
            lease.release()
        return response.status, as_bytes(response.body)


#: The one transport :mod:`._hub` gives its platform clients (it holds no state of its own).
LEAN_GET = LeanPlatformGet()
