"""Fixtures for the platform tests: a running platform on a free loopback port (its data and
the client's config in temp dirs), raw HTTP calls, and users with tokens.

The s3 fixtures (SeaweedFS with STS, the loopback-only socket guard, a hermetic AWS
environment) and the gcs ones (fake-gcs-server behind a bearer-checking proxy, a fake Google
token endpoint) come from ``tests/servers/``; the servers start only for the tests that ask.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shoal.auth import hub_grants as hub_client
from shoal.platform.config import ServerConfig
from shoal.platform.server import BackgroundServer
from tests.servers.gcs_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import *  # noqa: F403

_names = itertools.count()


def unique(prefix: str = "u") -> str:
    return f"{prefix}{next(_names)}"


@dataclass
class Running:
    """A platform running in this process."""

    server: BackgroundServer
    config: ServerConfig

    @property
    def url(self) -> str:
        return self.server.url

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """``(status, parsed JSON)`` of one request (``raw``: send these bytes as the body)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, method=method, data=data)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def user(self, name: str | None = None, password: str = "correct horse") -> User:
        """A new registered user and a login token."""
        name = name or unique("user")
        status, body = self.call(
            "POST",
            "/api/user/register",
            {"username": name, "email": f"{name}@example.com", "password": password},
        )
        assert status == 201, body
        status, body = self.call(
            "POST", "/api/user/token", {"username": name, "password": password}
        )
        assert status == 200, body
        return User(name, password, body["token"])


@dataclass
class User:
    name: str
    password: str
    token: str


StartPlatform = Callable[..., Running]


@pytest.fixture(autouse=True)
def client_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The client's config dir in a temp dir; no token or platform URL from the host."""
    for var in ("SHOAL_TOKEN", "ACTIVELOOP_TOKEN", "SHOAL_PLATFORM_URL", "SHOAL_SERVE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    config_dir = tmp_path / "client-config"
    monkeypatch.setenv("SHOAL_CONFIG_DIR", str(config_dir))
    hub_client.clear_cache()
    return config_dir


@pytest.fixture
def start_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartPlatform]:
    """``start_platform(**settings)``: a platform on a free loopback port, stopped after the
    test."""
    started: list[BackgroundServer] = []

    def start(**overrides: Any) -> Running:
        overrides.setdefault("data_dir", str(tmp_path_factory.mktemp("platform-data")))
        overrides.setdefault("port", 0)
        overrides.setdefault("host", "127.0.0.1")
        overrides.setdefault("log_level", "warning")
        config = ServerConfig.load(None, env={}, **overrides)
        server = BackgroundServer(config).start()
        started.append(server)
        return Running(server, config)

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture(scope="module")
def shared_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One platform for a whole test module (tests use fresh user names)."""
    config = ServerConfig.load(
        None,
        env={},
        data_dir=str(tmp_path_factory.mktemp("platform-shared")),
        port=0,
        log_level="warning",
    )
    with BackgroundServer(config) as server:
        yield Running(server, config)


@pytest.fixture
def platform(shared_platform: Running, monkeypatch: pytest.MonkeyPatch) -> Running:
    """The module's platform, and the client pointed at it."""
    monkeypatch.setenv("SHOAL_PLATFORM_URL", shared_platform.url)
    return shared_platform
