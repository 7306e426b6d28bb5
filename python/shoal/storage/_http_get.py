"""A minimal HTTP/1.1 GET client on ``asyncio.BufferedProtocol``, for the S3 read path only.

Reading a chunk through aiohttp costs more CPU than the store spends serving it: its
protocol receives 64 KiB blocks, its parser copies them into a stream, and ``read()`` joins
the blocks into one ``bytes`` (a second copy). Here the socket reads straight into the
buffer the body ends up in (:mod:`._http_parse`), which the caller gets as it is. Only what a
GET of an object needs is here: keep-alive connections pooled per ``(scheme, host, port)``
(at most ``limit`` in use, idle ones reused), ``Content-Length`` and chunked bodies, a
connect timeout and a read timeout (the longest silence while a response is due).

What can go wrong is raised as the exceptions the S3 provider's retry policy already knows:
``OSError``\\ s for refused and dropped connections (a :class:`~._http_parse.BadResponse` for
malformed answers), ``TimeoutError`` for silence, botocore's ``IncompleteReadError`` for a
body cut off. A reused keep-alive connection the server closed before answering is the one
failure retried here, once, on a new connection: the server dropped an idle connection while
the request was on its way, which says nothing about the request.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._http_parse import BadResponse, ResponseParser, ServerClosed

__all__ = ["BadResponse", "GetPool", "Origin", "Response", "ServerClosed"]

_DNS_TTL = 300.0
_ssl_context: ssl.SSLContext | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go: ``tls`` for https."""

    host: str
    port: int
    tls: bool


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: memoryview  # read-only; a whole object's body is one buffer, not a copy


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.parser = ResponseParser()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._waiter: asyncio.Future[None] | None = None
        self._on_length: Callable[[int], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_io = 0.0

    # -- protocol callbacks ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.parser.buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self._last_io = self.loop.time()
        parser = self.parser
        try:
            done = parser.advance(nbytes)
        except Exception as exc:  # malformed input: this connection is done for
            self._fail(exc)
            return
        waiter = self._waiter
        if waiter is None or waiter.done():
            if not parser.keep_alive:  # bytes while idle
                self.abort()
            return
        if self._on_length is not None and parser.status:
            hook, self._on_length = self._on_length, None
            if parser.length:
                hook(parser.length)
        if done:
            waiter.set_result(None)

    def eof_received(self) -> bool:
        self._finish_at_eof(None)
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish_at_eof(exc)

    def _finish_at_eof(self, cause: BaseException | None) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            if self.parser.eof():
                waiter.set_result(None)
                return
            error: BaseException = ServerClosed("the connection closed", False)
        except Exception as exc:
            error = exc
        if cause is not None and error.__cause__ is None:
            error.__cause__ = cause
            if isinstance(error, ServerClosed):  # say how: "Connection reset by peer"
                error.args = (f"{error.args[0]} ({cause})",)
        waiter.set_exception(error)

    def _fail(self, exc: BaseException) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _check_silence(self, limit: float) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self.loop.time() - self._last_io >= limit:
            self._fail(TimeoutError(f"no data from the server for {limit:g} s"))
        else:
            self._timer = self.loop.call_at(self._last_io + limit, self._check_silence, limit)

    # -- one request -------------------------------------------------------------------------
    async def request(
        self, data: bytes, read_timeout: float, on_length: Callable[[int], None] | None
    ) -> Response:
        parser = self.parser
        parser.start()
        waiter = self.loop.create_future()
        self._waiter = waiter
        self._on_length = on_length
        assert self.transport is not None
        self.transport.write(data)
        self._last_io = self.loop.time()
        self._timer = self.loop.call_at(
            self._last_io + read_timeout, self._check_silence, read_timeout
        )
        try:
            await waiter
        finally:
            if self._timer is not None:
                self._timer.cancel()
            self._waiter = self._on_length = None
        return Response(parser.status, parser.headers, parser.body())


class GetPool:
    """Keep-alive connections of one event loop, at most ``limit`` in use at once."""

    def __init__(self, limit: int, connect_timeout: float, read_timeout: float) -> None:
        self.limit = limit
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._slots = asyncio.Semaphore(limit)
        self._idle: collections.OrderedDict[_Connection, Origin] = collections.OrderedDict()
        self._busy: set[_Connection] = set()
        self._addresses: dict[tuple[str, int], tuple[float, list[Any]]] = {}
        self._closed = False

    @property
    def open_connections(self) -> int:
        return len(self._idle) + len(self._busy)

    async def get(
        self,
        origin: Origin,
        request: bytes,
        on_length: Callable[[int], None] | None = None,
    ) -> Response:
        """Send ``request`` (a whole GET head) to ``origin`` and read the whole response."""
        async with self._slots:
            for attempt in range(2):
                # A second try always goes on a new connection: another idle one may have
                # been dropped by the server just the same.
                idle = self._take_idle(origin) if attempt == 0 else None
                conn = idle or await self._connect(origin)
                self._busy.add(conn)
                done = False
                try:
                    response = await conn.request(request, self.read_timeout, on_length)
                    done = True
                except ServerClosed as exc:
                    if attempt == 0 and conn.reused and exc.nothing_received:
                        continue  # dropped while idle: once more, on a new connection
                    raise
                finally:
                    self._busy.discard(conn)
                    if done and conn.parser.keep_alive and not conn.closed:
                        self._park(conn, origin)
                    else:  # failed, cancelled, or the server wants it closed
                        conn.abort()
                return response
            raise AssertionError(
                "unreachable"
            )  # the second try (a new connection) returns or raises

    def _take_idle(self, origin: Origin) -> _Connection | None:
        for conn, where in list(self._idle.items()):  # closed ones are dropped on the way
            if where == origin:
                del self._idle[conn]
                if conn.closed:
                    continue  # closed by the server while idle; look further
                conn.reused = True
                return conn
        return None

    def _park(self, conn: _Connection, origin: Origin) -> None:
        if self._closed:
            conn.abort()
            return
        self._idle[conn] = origin
        while len(self._idle) + len(self._busy) > self.limit:
            oldest, _ = self._idle.popitem(last=False)
            oldest.abort()
        for stale in [c for c in self._idle if c.closed]:
            del self._idle[stale]

    async def _resolve(self, host: str, port: int) -> list[Any]:
        now = time.monotonic()
        hit = self._addresses.get((host, port))
        if hit is not None and hit[0] > now:
            return hit[1]
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=0, proto=6)  # 6: TCP
        if not infos:
            raise OSError(f"{host!r} resolves to no address")
        self._addresses[(host, port)] = (now + _DNS_TTL, infos)
        return infos

    async def _connect(self, origin: Origin) -> _Connection:
        if self._closed:
            raise ConnectionError("the connection pool is closed")
        loop = asyncio.get_running_loop()
        context = _tls() if origin.tls else None
        error: OSError | None = None
        async with asyncio.timeout(self.connect_timeout):
            for family, _, proto, _, address in await self._resolve(origin.host, origin.port):
                try:
                    _, conn = await loop.create_connection(
                        lambda: _Connection(loop),
                        host=address[0],
                        port=address[1],
                        family=family,
                        proto=proto,
                        ssl=context,
                        server_hostname=origin.host if context else None,
                    )
                    return conn
                except OSError as exc:
                    error = exc
        assert error is not None
        raise error

    async def close(self) -> None:
        self._closed = True
        for conn in [*self._idle, *self._busy]:
            conn.abort()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing


def _tls() -> ssl.SSLContext:
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context
