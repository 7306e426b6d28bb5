"""The platform client sends an idempotent call once more when its connection is dropped
before an answer (a keep-alive connection the server closed), and never a POST: a login or a
registration must not happen twice. The server here is a loopback socket that drops the first
``drops`` connections after reading the request, then answers like the platform."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from shoal.auth.platform_api import PlatformClient
from shoal.errors import PlatformConnectionError


@dataclass
class Dropper:
    url: str
    drops: int
    requests: int = 0


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))


@pytest.fixture
async def dropper() -> AsyncIterator[Dropper]:
    state = Dropper("", drops=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _read_request(reader)
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


async def test_a_dropped_get_is_sent_again(dropper: Dropper) -> None:
    dropper.drops = 1  # the policy's second attempt would answer even if aiohttp did not resend
    profile = await PlatformClient(dropper.url, "t").profile()
    assert profile == {"_id": "someone", "answer": 2}
    assert dropper.requests == 2


async def test_a_get_dropped_every_time_fails_saying_so(dropper: Dropper) -> None:
    dropper.drops = 100
    with pytest.raises(PlatformConnectionError, match="connection was dropped.*shoal serve"):
        await PlatformClient(dropper.url, "t").profile()
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
