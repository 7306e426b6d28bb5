"""Fixtures for the linked-tensor tests: the SeaweedFS and fake-gcs servers of tests/servers,
the platform, sample image files, and a loopback http server serving them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from shoal import _native
from tests.servers.gcs_fixtures import *  # noqa: F403
from tests.servers.platform_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import *  # noqa: F403

HTTP_TOKEN = "Bearer http-link-token-S3CR3T"


@dataclass
class Images:
    """Image files on disk and their pixels."""

    root: Path
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def path(self, name: str) -> str:
        return str(self.root / name)

    def data(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


def make_images(root: Path, n: int = 4) -> Images:
    rng = np.random.default_rng(7)
    out = Images(root)
    for i in range(n):
        h, w = 16 + i, 20 + 2 * i
        if i % 2:
            arr = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
            name, data = f"img{i}.png", _native.png_encode(arr)
        else:
            arr = np.full((h, w, 3), 40 * i, dtype=np.uint8)  # flat: jpeg keeps it exact
            name, data = f"img{i}.jpg", _native.jpeg_encode(arr, 95)
            arr = _native.jpeg_decode(data)
        (root / name).write_bytes(data)
        out.arrays[name] = arr
    return out


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    return make_images(tmp_path_factory.mktemp("link-images"))


@dataclass
class HttpServer:
    url: str
    requests: list[str]


@pytest.fixture(scope="session")
def http_server(images: Images) -> Iterator[HttpServer]:
    """Serves the images on 127.0.0.1: ``/public/<name>`` to anyone, ``/private/<name>`` only
    with ``Authorization: HTTP_TOKEN``."""
    seen: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        kind, name = request.match_info["kind"], request.match_info["name"]
        if kind == "private" and request.headers.get("Authorization") != HTTP_TOKEN:
            return web.Response(status=403)
        f = images.root / name
        if not f.is_file():
            return web.Response(status=404)
        return web.Response(body=f.read_bytes())

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/{kind}/{name}", serve)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield HttpServer(f"http://127.0.0.1:{port}", seen)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
