"""A fault-injecting HTTP proxy on loopback, in front of a real S3 endpoint.

Requests are forwarded unchanged (the ``Host`` header too, so SigV4 signatures stay valid)
unless a queued :class:`Fault` matches, in which case the proxy answers 503 SlowDown, 429,
500, drops the connection before answering, cuts the body off half way, or stalls; or, after
:meth:`FaultProxy.fail_randomly`, a given share of all requests fails at random. Runs its own
event loop on a thread, so sync and async tests can use it alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp import web

Kind = Literal["slowdown", "throttle", "internal", "reset", "truncate", "stall", "lag"]

_XML = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "throttle": (429, "TooManyRequests", "Too many requests."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect"}


@dataclass
class Fault:
    kind: Kind
    times: int = 1
    method: str | None = None  # only requests with this method
    contains: str | None = None  # only paths containing this
    delay: float = 0.0  # "stall": before forwarding; "lag": after the upstream answered

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.contains is None or self.contains in path
        )


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections: set[int] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self.url = ""
        self._wake: asyncio.Event | None = None
        self._rate = 0.0
        self._random_kinds: tuple[Kind, ...] = ()
        self._rng = random.Random(0)

    # -- control -----------------------------------------------------------------------------
    def inject(self, kind: Kind, times: int = 1, **match: object) -> None:
        with self._lock:
            self.faults.append(Fault(kind, times, **match))  # type: ignore[arg-type]

    def fail_randomly(
        self, rate: float, kinds: tuple[Kind, ...] = ("slowdown", "reset"), seed: int = 0
    ) -> None:
        """From now on, each request fails with probability ``rate``, as one of ``kinds``
        chosen at random (reproducibly, from ``seed``)."""
        with self._lock:
            self._rate, self._random_kinds, self._rng = rate, kinds, random.Random(seed)

    def clear(self) -> None:
        """Drop queued faults and random failures, cut short stalls still running, and zero
        the counters."""
        with self._lock:
            self.faults.clear()
            self._rate = 0.0
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._release_stalls(), self._loop).result(5)
        deadline = time.monotonic() + 5
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            self.injected.clear()
            self.requests = 0
            self.max_in_flight = 0
            self.connections.clear()

    async def _release_stalls(self) -> None:
        assert self._wake is not None
        self._wake.set()
        await asyncio.sleep(0)
        self._wake = asyncio.Event()

    async def _sleep(self, delay: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests += 1
            for fault in self.faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    self.injected[fault.kind] += 1
                    return fault
            if self._rate and self._rng.random() < self._rate:
                kind = self._rng.choice(self._random_kinds)
                self.injected[kind] += 1
                return Fault(kind)
        return None

    # -- server ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            peer = request.transport.get_extra_info("peername") if request.transport else None
            self.connections.add(hash(peer))
        try:
            return await self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        fault = self._take(request.method, request.path_qs)
        if fault is not None and fault.kind in _XML:
            status, code, message = _XML[fault.kind]
            text = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            )
            await request.read()
            return web.Response(status=status, text=text, content_type="application/xml")
        if fault is not None and fault.kind == "reset":
            await request.read()
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("fault proxy: connection dropped")
        if fault is not None and fault.kind == "stall":
            await self._sleep(fault.delay)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=io.BytesIO(body) if body else None,
            skip_auto_headers={"Content-Type", "User-Agent", "Accept", "Accept-Encoding"},
            allow_redirects=False,
            auto_decompress=False,
        ) as up:
            payload = await up.read()
            if fault is not None and fault.kind == "lag":
                await self._sleep(fault.delay)
            out_headers = {
                k: v
                for k, v in up.headers.items()
                if k.lower() not in _HOP and k.lower() != "content-length"
            }
            if fault is not None and fault.kind == "truncate" and len(payload) > 1:
                resp = web.StreamResponse(status=up.status, headers=out_headers)
                resp.content_length = len(payload)
                await resp.prepare(request)
                await resp.write(payload[: len(payload) // 2])
                assert request.transport is not None
                request.transport.abort()
                return resp
            return web.Response(status=up.status, body=payload, headers=out_headers)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._wake = asyncio.Event()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256), auto_decompress=False
        )
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        await self._runner.cleanup()
        await self._session.close()

    def start(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        fut = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
