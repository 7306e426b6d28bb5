"""The lean GET client against a scripted HTTP server on loopback (each test says how the
server answers): keep-alive reuse, a connection the server dropped while idle, stalls, cut
off and malformed answers, cancellation -- each a body or a clear error within its timeout,
and no connection left behind."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from botocore.exceptions import IncompleteReadError  # type: ignore[import-untyped]

from shoal.storage._http_get import BadResponse, GetPool, Origin

Script = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
REQUEST = b"GET /x HTTP/1.1\r\nHost: test\r\n\r\n"


class Server:
    """Answers each request with ``script(n, reader, writer)`` (``n``: the request's number)."""

    def __init__(self) -> None:
        self.script: Script = ok(b"hello")
        self.requests = 0
        self.connections = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"GET ")
                self.requests += 1
                await self.script(self.requests, reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(body: bytes, extra: bytes = b"") -> Script:
    async def answer(n: int, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra) + body)
        await w.drain()

    return answer


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, Origin]]:
    srv = Server()
    listener = await asyncio.start_server(srv._serve, "127.0.0.1", 0)
    srv.port = listener.sockets[0].getsockname()[1]
    yield srv, Origin("127.0.0.1", srv.port, False)
    listener.close()


async def test_bodies_and_keep_alive(server: tuple[Server, Origin]) -> None:
    srv, origin = server
    pool = GetPool(4, 2, 2)
    big = bytes(range(256)) * 4000  # bigger than the scratch buffer: read in place
    srv.script = ok(big)
    lengths: list[int] = []
    for _ in range(3):
        got = await pool.get(origin, REQUEST, lengths.append)
        assert got.status == 200 and got.body.tobytes() == big and got.body.readonly
    assert lengths == [len(big)] * 3
    assert srv.connections == 1 and pool.open_connections == 1  # one connection, reused
    # concurrent requests: at most `limit` connections
    await asyncio.gather(*(pool.get(origin, REQUEST) for _ in range(10)))
    assert srv.connections <= 4 and pool.open_connections <= 4
    await pool.close()
    assert pool.open_connections == 0


async def test_chunked_bodies(server: tuple[Server, Origin]) -> None:
    srv, origin = server

    async def chunked(n: int, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b"abc", b"d" * 70_000, b"e"):
            w.write(b"%x\r\n%s\r\n" % (len(part), part))
            await w.drain()
        w.write(b"0\r\n\r\n")

    srv.script = chunked
    pool = GetPool(2, 2, 2)
    for _ in range(2):
        got = await pool.get(origin, REQUEST)
        assert got.body.tobytes() == b"abc" + b"d" * 70_000 + b"e"
    assert srv.connections == 1
    await pool.close()


async def test_a_connection_dropped_while_idle_is_replaced(server: tuple[Server, Origin]) -> None:
    srv, origin = server

    async def then_close(n: int, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if n == 2:  # the second request arrives on a connection the server now drops
            w.close()
            return
        await ok(b"fine")(n, r, w)

    srv.script = then_close
    pool = GetPool(2, 2, 2)
    assert (await pool.get(origin, REQUEST)).body.tobytes() == b"fine"
    assert (await pool.get(origin, REQUEST)).body.tobytes() == b"fine"  # on a new connection
    assert srv.connections == 2 and srv.requests == 3
    await pool.close()


async def test_a_retry_never_lands_on_another_dropped_idle_connection(
    server: tuple[Server, Origin],
) -> None:
    """Two kept-alive connections, both dropped by the server before the client notices:
    the request that finds the first dead goes once more on a new connection, not on the
    second dead one (which used to end in an internal error)."""
    srv, origin = server

    async def drop_after_first(n: int, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if n > 2 and srv.connections <= 2:  # a request on one of the first two connections
            w.close()
            return
        await ok(b"fine")(n, r, w)

    srv.script = drop_after_first
    pool = GetPool(2, 2, 2)
    first = await asyncio.gather(pool.get(origin, REQUEST), pool.get(origin, REQUEST))
    assert [g.body.tobytes() for g in first] == [b"fine", b"fine"] and srv.connections == 2
    assert len(pool._idle) == 2 and not any(c.closed for c in pool._idle)
    assert (await pool.get(origin, REQUEST)).body.tobytes() == b"fine"
    assert srv.connections == 3
    await pool.close()


async def test_idle_connections_seen_closed_are_skipped(server: tuple[Server, Origin]) -> None:
    """The server closes two kept-alive connections a moment after answering on them, and
    the pool sees it while they are idle: the next request skips both and goes on a new
    connection."""
    srv, origin = server

    async def answer_then_close(n: int, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await ok(b"fine")(n, r, w)
        if n <= 2:
            asyncio.get_running_loop().call_later(0.05, w.close)

    srv.script = answer_then_close
    pool = GetPool(2, 2, 2)
    first = await asyncio.gather(pool.get(origin, REQUEST), pool.get(origin, REQUEST))
    assert [g.body.tobytes() for g in first] == [b"fine", b"fine"] and srv.connections == 2
    for _ in range(200):  # until the client has seen both closes
        if all(c.closed for c in pool._idle):
            break
        await asyncio.sleep(0.01)
    assert (await pool.get(origin, REQUEST)).body.tobytes() == b"fine"
    assert srv.connections == 3 and srv.requests == 3
    await pool.close()


@pytest.mark.parametrize(
    ("how", "error", "message"),
    [
        ("stall-head", TimeoutError, "no data from the server for 0.3 s"),
        ("stall-body", TimeoutError, "no data from the server"),
        ("truncate", IncompleteReadError, "1000"),
        ("garbage", BadResponse, "status line"),
        ("bad-length", BadResponse, "Content-Length"),
        ("close-first", ConnectionResetError, "closed the connection before answering"),
    ],
)
async def test_failures_are_clear_errors_and_leave_no_connection(
    server: tuple[Server, Origin], how: str, error: type[Exception], message: str
) -> None:
    srv, origin = server

    async def bad(n: int, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if how == "stall-head":
            await asyncio.sleep(5)
        elif how == "stall-body":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            await w.drain()
            await asyncio.sleep(5)
        elif how == "truncate":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            w.close()
        elif how == "garbage":
            w.write(b"<html>hello</html>\r\n\r\n")
        elif how == "bad-length":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n")
        else:
            w.close()

    srv.script = bad
    pool = GetPool(2, 2, 0.3)
    t0 = time.monotonic()
    with pytest.raises(error, match=message):
        await pool.get(origin, REQUEST)
    assert time.monotonic() - t0 < 2  # within the read timeout, never a hang
    assert pool.open_connections == 0  # the broken connection is not kept
    srv.script = ok(b"next")
    assert (await pool.get(origin, REQUEST)).body.tobytes() == b"next"
    await pool.close()


async def test_cancelling_a_get_mid_body_drops_its_connection(
    server: tuple[Server, Origin],
) -> None:
    srv, origin = server

    async def slow(n: int, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 100)
        await w.drain()
        await asyncio.sleep(5)

    srv.script = slow
    pool = GetPool(1, 2, 10)
    task = asyncio.ensure_future(pool.get(origin, REQUEST))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.open_connections == 0
    srv.script = ok(b"after")  # the slot is free again (limit 1)
    got = await asyncio.wait_for(pool.get(origin, REQUEST), 2)
    assert got.body.tobytes() == b"after"
    await pool.close()


async def test_refused_connections_and_connect_timeouts() -> None:
    pool = GetPool(2, 0.5, 1)
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    with pytest.raises(ConnectionRefusedError):
        await pool.get(Origin("127.0.0.1", port, False), REQUEST)
    # a listener whose backlog is full: the handshake never completes, the timeout ends it
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(full.getsockname())
        fillers.append(s)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        await pool.get(Origin("127.0.0.1", full.getsockname()[1], False), REQUEST)
    assert time.monotonic() - t0 < 3
    for s in [full, *fillers]:
        s.close()
    await pool.close()
