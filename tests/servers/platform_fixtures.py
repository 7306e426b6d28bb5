"""The platform (``shoal serve``) as a test server: running in this process on a free
loopback port, its data in a temp dir, with raw HTTP calls and users with tokens.

Import the fixtures with ``from tests.servers.platform_fixtures import *`` in a conftest (see
tests/storage/conftest.py for why not ``pytest_plugins``). ``client_env`` is not autouse here:
a conftest that wants every test isolated from the host's login wraps it in an autouse fixture.

Every platform these fixtures start runs once on SQLite and once on PostgreSQL
(``platform_database`` is parametrized per module): the same tests, on both databases. A test
that looks into the SQLite file itself skips the PostgreSQL run (:func:`sqlite_only`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
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
from tests.servers.postgres import PostgresServer, pg_bin

__all__ = [
    "Running",
    "StartPlatform",
    "User",
    "client_env",
    "platform",
    "platform_database",
    "postgres_server",
    "run_platform",
    "shared_platform",
    "sqlite_only",
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

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` run on the platform's database (SQLite file or PostgreSQL)
        through a connection of its own."""
        if self.config.database_url:
            import psycopg

            with psycopg.connect(self.config.database_url) as pg:
                return [tuple(r) for r in pg.execute(sql).fetchall()]
        conn = sqlite3.connect(Path(self.config.data_dir) / "platform.db")
        try:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
        finally:
            conn.close()

    def dump(self) -> list[str]:
        """Every row of every table, as text, in a stable order (to compare states)."""
        if not self.config.database_url:
            conn = sqlite3.connect(Path(self.config.data_dir) / "platform.db")
            try:
                return list(conn.iterdump())
            finally:
                conn.close()
        tables = self.rows(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return [
            f"{table}: {row!r}"
            for (table,) in tables
            for row in sorted(self.rows(f'SELECT * FROM "{table}"'), key=repr)
        ]

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


#: ``database_url`` for a platform whose data dir is the argument ("" for SQLite there).
Databases = Callable[[str], str]


@contextlib.contextmanager
def run_platform(
    tmp_path_factory: pytest.TempPathFactory,
    databases: Databases | None = None,
    **overrides: Any,
) -> Iterator[Running]:
    """A platform with ``overrides`` as settings (defaults: a fresh data dir, a free loopback
    port, warnings only, the database ``databases`` gives for the data dir), stopped on exit."""
    overrides.setdefault("data_dir", str(tmp_path_factory.mktemp("platform-data")))
    overrides.setdefault("port", 0)
    overrides.setdefault("host", "127.0.0.1")
    overrides.setdefault("log_level", "warning")
    if databases is not None and "database_url" not in overrides:
        overrides["database_url"] = databases(str(overrides["data_dir"]))
    config = ServerConfig.load(None, env={}, **overrides)
    with BackgroundServer(config) as server:
        yield Running(server, config)


def sqlite_only(p: Running) -> None:
    """Skip the rest of a test that reads the SQLite file itself, on a PostgreSQL platform."""
    if p.config.database_url:
        pytest.skip("looks into the SQLite file; the PostgreSQL run covers the rest")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session (``.ci/setup-postgres`` installs it)."""
    if pg_bin() is None:
        message = "PostgreSQL is not installed; run .ci/setup-postgres"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def platform_database(request: pytest.FixtureRequest) -> Databases:
    """Which database the module's platforms use: SQLite in their data dir, or a new
    PostgreSQL database per data dir (a platform restarted on the same data dir finds its
    database again)."""
    if request.param == "sqlite":
        return lambda data_dir: ""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    by_dir: dict[str, str] = {}

    def database(data_dir: str) -> str:
        if data_dir not in by_dir:
            by_dir[data_dir] = server.new_database()
        return by_dir[data_dir]

    return database


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
def start_platform(
    tmp_path_factory: pytest.TempPathFactory, platform_database: Databases
) -> Iterator[StartPlatform]:
    """``start_platform(**settings)``: a platform on a free loopback port, stopped after the
    test."""
    with contextlib.ExitStack() as stack:

        def start(**overrides: Any) -> Running:
            return stack.enter_context(
                run_platform(tmp_path_factory, platform_database, **overrides)
            )

        yield start


@pytest.fixture(scope="module")
def shared_platform(
    tmp_path_factory: pytest.TempPathFactory, platform_database: Databases
) -> Iterator[Running]:
    """One platform for a whole test module (tests use fresh user names)."""
    with run_platform(
        tmp_path_factory,
        platform_database,
        data_dir=str(tmp_path_factory.mktemp("platform-shared")),
    ) as running:
        yield running


@pytest.fixture
def platform(
    shared_platform: Running, client_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Running:
    """The module's platform, and the client pointed at it."""
    monkeypatch.setenv("SHOAL_PLATFORM_URL", shared_platform.url)
    return shared_platform
