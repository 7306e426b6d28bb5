"""The platform (``shoal serve``) as a test server: running in this process on a free
loopback port, its data in a temp dir, with raw HTTP calls and users with tokens.

Import the fixtures with ``from tests.servers.platform_fixtures import *`` in a conftest (see
tests/storage/conftest.py for why not ``pytest_plugins``). ``client_env`` is not autouse here:
a conftest that wants every test isolated from the host's login wraps it in an autouse fixture.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shoal.auth import hub_grants
from shoal.platform.config import ServerConfig
from shoal.platform.server import BackgroundServer

__all__ = [
    "Running",
    "StartPlatform",
    "User",
    "client_env",
    "platform",
    "run_platform",
    "shared_platform",
    "start_platform",
    "unique",
]

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


@contextlib.contextmanager
def run_platform(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Iterator[Running]:
    """A platform with ``overrides`` as settings (defaults: a fresh data dir, a free loopback
    port, warnings only), stopped on exit."""
    overrides.setdefault("data_dir", str(tmp_path_factory.mktemp("platform-data")))
    overrides.setdefault("port", 0)
    overrides.setdefault("host", "127.0.0.1")
    overrides.setdefault("log_level", "warning")
    config = ServerConfig.load(None, env={}, **overrides)
    with BackgroundServer(config) as server:
        yield Running(server, config)


@pytest.fixture
def client_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The client's config dir in a temp dir; no token or platform URL from the host; no
    grant cached by an earlier test."""
    for var in ("SHOAL_TOKEN", "ACTIVELOOP_TOKEN", "SHOAL_PLATFORM_URL", "SHOAL_SERVE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    config_dir = tmp_path / "client-config"
    monkeypatch.setenv("SHOAL_CONFIG_DIR", str(config_dir))
    hub_grants.clear_cache()
    return config_dir


@pytest.fixture
def start_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartPlatform]:
    """``start_platform(**settings)``: a platform on a free loopback port, stopped after the
    test."""
    with contextlib.ExitStack() as stack:

        def start(**overrides: Any) -> Running:
            return stack.enter_context(run_platform(tmp_path_factory, **overrides))

        yield start


@pytest.fixture(scope="module")
def shared_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One platform for a whole test module (tests use fresh user names)."""
    with run_platform(
        tmp_path_factory, data_dir=str(tmp_path_factory.mktemp("platform-shared"))
    ) as running:
        yield running


@pytest.fixture
def platform(
    shared_platform: Running, client_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Running:
    """The module's platform, and the client pointed at it."""
    monkeypatch.setenv("SHOAL_PLATFORM_URL", shared_platform.url)
    return shared_platform
