"""The platform client sends an idempotent call once more when its connection is dropped
before an answer (a keep-alive connection the server closed), and never a POST: a login or a
registration must not happen twice; likewise its GETs on the lean transport a ``hub://`` open
uses. The server here is a loopback socket that drops the first ``drops`` connections after
reading the request, then answers like the platform."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from shoal.auth.platform_api import GetTransport, PlatformClient
from shoal.errors import PlatformConnectionError
from shoal.storage._platform_get import LEAN_GET

TRANSPORTS = pytest.mark.parametrize("transport", [None, LEAN_GET], ids=["aiohttp", "lean"])


@dataclass
class Dropper:
    url: str
    drops: int
    requests: int = 0
    targets: list[str] | None = None


async def _read_request(reader: asyncio.StreamReader) -> str:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))
    return head.split(b" ", 2)[1].decode()


@pytest.fixture
async def dropper() -> AsyncIterator[Dropper]:
    state = Dropper("", drops=0, targets=[])

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target = await _read_request(reader)
            assert state.targets is not None
            state.targets.append(target)
            state.requests += 1
            if state.requests <= state.drops:
                return  # closed below without a byte of answer
            body = json.dumps({"_id": "someone", "answer": state.requests}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    async with server:
        yield state


@TRANSPORTS
async def test_a_dropped_get_is_sent_again(
    dropper: Dropper, transport: GetTransport | None
) -> None:
    dropper.drops = 1  # the policy's second attempt would answer even if aiohttp did not resend
    profile = await PlatformClient(dropper.url, "t", transport=transport).profile()
    assert profile == {"_id": "someone", "answer": 2}
    assert dropper.requests == 2


@TRANSPORTS
async def test_a_get_dropped_every_time_fails_saying_so(
    dropper: Dropper, transport: GetTransport | None
) -> None:
    dropper.drops = 100
    with pytest.raises(PlatformConnectionError, match="connection was dropped.*shoal serve"):
        await PlatformClient(dropper.url, "t", transport=transport).profile()
    # The client's policy allows 2 attempts; recent aiohttp also resends an idempotent
    # request once by itself, so each attempt may be 2 requests. Never more.
    assert 2 <= dropper.requests <= 4


async def test_a_dropped_post_is_not_sent_again(dropper: Dropper) -> None:
    dropper.drops = 1
    with pytest.raises(PlatformConnectionError, match="connection was dropped"):
        await PlatformClient(dropper.url).login("someone", "a password")
    assert dropper.requests == 1
    dropper.drops = 0
    assert (await PlatformClient(dropper.url).login("someone", "a password"))["answer"] == 2


@TRANSPORTS
async def test_a_get_query_is_encoded_alike(
    dropper: Dropper, transport: GetTransport | None
) -> None:
    """An object key with spaces, slashes, '&', '?' and non-ASCII letters reaches the server
    encoded so that it decodes to the same key, on either transport."""
    key = "dir/a b&c=d?é#x"
    client = PlatformClient(dropper.url, "t", transport=transport)
    assert await client.read_object("org", "ds", key, 3, 9) is not None
    assert dropper.targets is not None
    target = dropper.targets[-1]
    assert target.startswith("/api/org/org/ds/ds/object?")
    query = urllib.parse.parse_qs(target.split("?", 1)[1])
    assert query == {"key": [key], "start": ["3"], "end": ["9"]}


async def test_the_lean_transport_says_when_nothing_listens() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = PlatformClient(f"http://127.0.0.1:{port}", "t", transport=LEAN_GET)
    with pytest.raises(PlatformConnectionError, match="cannot reach.*ConnectionRefusedError"):
        await client.profile()
