"""Two ``shoal serve`` processes on one PostgreSQL, requests alternating between them: what
one replica records (a revoked token, failed logins, a role, a vended grant) holds on the
other at once."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shoal.platform.creds_vending import Grant
from shoal.platform.crypto import KeyRing, parse_setting
from shoal.platform.db import Database
from shoal.platform.grant_cache import GrantCache
from tests.servers.postgres import PostgresServer
from tests.servers.serve_process import ServeProcess, http

PASSWORD = "correct horse battery"


def _ring_setting() -> str:
    import base64

    return "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def replicas(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServeProcess]]:
    base = tmp_path_factory.mktemp("replicas")
    shared = {
        "database_url": postgres_server.new_database(),
        "secret_key": secrets.token_hex(32),
        "creds_encryption_keys": _ring_setting(),
        "storage_root": str(base / "datasets"),
        "scrypt_n": 1024,
        "login_backoff": 30.0,
    }
    procs = [ServeProcess(base / f"replica{i}", **shared) for i in range(2)]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def _alternating(procs: list[ServeProcess]) -> Iterator[str]:
    return itertools.cycle([p.url for p in procs])


def _register(url: str, name: str) -> None:
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    assert http(url + "/api/user/register", "POST", body)[0] == 201


def _login(url: str, name: str, password: str = PASSWORD) -> tuple[int, dict[str, object]]:
    return http(url + "/api/user/token", "POST", {"username": name, "password": password})


def test_accounts_and_revocation_hold_on_both(replicas: list[ServeProcess]) -> None:
    a, b = (p.url for p in replicas)
    _register(a, "carol")
    status, body = _login(b, "carol")
    assert status == 200
    login = str(body["token"])
    for url in (a, b):
        assert http(url + "/api/user/profile", token=login)[0] == 200
    # an API token made on one replica, revoked on the other
    status, body = http(a + "/api/user/tokens", "POST", {"name": "ci"}, token=login)
    assert status == 201, body
    api = str(body["token"])
    assert http(b + "/api/user/profile", token=api)[0] == 200
    assert http(b + "/api/user/tokens/ci", "DELETE", token=login)[0] == 200
    for url in (a, b):
        status, body = http(url + "/api/user/profile", token=api)
        assert status == 401 and body["error"] == "token_revoked", body
    # a logout on one replica ends the session on both
    assert http(a + "/api/user/logout", "POST", token=login)[0] == 200
    for url in (a, b):
        assert http(url + "/api/user/profile", token=login)[0] == 401


def test_failed_logins_are_counted_across_replicas(replicas: list[ServeProcess]) -> None:
    urls = _alternating(replicas)
    _register(next(urls), "dave")
    for _ in range(5):  # login_max_failures, spread over both replicas
        assert _login(next(urls), "dave", "wrong password")[0] == 401
    for url in (p.url for p in replicas):
        status, body = _login(url, "dave")  # even the right password waits now
        assert status == 429 and body["error"] == "rate_limited", body


def test_role_changes_take_effect_on_both(replicas: list[ServeProcess]) -> None:
    a, b = (p.url for p in replicas)
    _register(a, "erin")
    _register(b, "frank")
    erin = str(_login(a, "erin")[1]["token"])
    frank = str(_login(b, "frank")[1]["token"])
    assert http(a + "/api/organizations", "POST", {"name": "lab"}, token=erin)[0] == 201
    created = {"tag": "lab/private"}
    assert http(b + "/api/dataset/create", "POST", created, token=erin)[0] == 200
    member = b + "/api/organizations/lab/members/frank"
    assert http(member, "PUT", {"role": "read"}, token=erin)[0] == 200
    assert http(a + "/api/org/lab/dataset/private", token=frank)[0] == 200
    status, _ = http(a + "/api/dataset/create", "POST", {"tag": "lab/frank1"}, token=frank)
    assert status == 403
    assert http(member.replace(b, a), "PUT", {"role": "write"}, token=erin)[0] == 200
    assert http(b + "/api/dataset/create", "POST", {"tag": "lab/frank1"}, token=frank)[0] == 200
    assert http(a + "/api/organizations/lab/members/frank", "DELETE", token=erin)[0] == 200
    for url in (a, b):
        assert http(url + "/api/org/lab/dataset/private", token=frank)[0] in (403, 404)


def test_vended_grants_are_shared_and_encrypted(postgres_server: PostgresServer) -> None:
    """A grant vended through one replica's cache is what the other hands out, without a
    second vend; the row holds no credential in the clear; another key ring cannot use it."""
    url = postgres_server.new_database()
    ring = parse_setting(_ring_setting())

    async def scenario() -> None:
        one, two = await Database.open(url), await Database.open(url)
        try:
            calls: list[str] = []

            async def vend() -> Grant:
                calls.append("vend")
                return Grant("s3://b/org/ds", {"aws_secret_access_key": "SECRETVALUE"}, 4e9)

            first = await GrantCache(one, ring).get_or_vend(("k",), Grant, vend)
            second = await GrantCache(two, ring).get_or_vend(("k",), Grant, vend)
            assert first == second and calls == ["vend"]
            rows = (await one.execute("SELECT sealed FROM vended_grants")).fetchall()
            assert rows and all(b"SECRETVALUE" not in bytes(r[0]) for r in rows)
            other: KeyRing = parse_setting(_ring_setting())
            await GrantCache(two, other).get_or_vend(("k",), Grant, vend)
            assert calls == ["vend", "vend"]
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())


def test_replicas_need_postgres_not_a_file(tmp_path: Path) -> None:
    from shoal.errors import PlatformConfigError
    from shoal.platform.config import ServerConfig

    with pytest.raises(PlatformConfigError, match="postgresql://"):
        ServerConfig.load(None, env={}, database_url="mysql://u:pw@h/db")


def test_a_lost_database_connection_is_replaced(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """PostgreSQL ends every connection of the platform (a restart, a failover): requests
    get at most a 503 each while the pool notices, then the platform reconnects."""
    import psycopg

    from shoal.platform.db_postgres import POOL_SIZE
    from tests.servers.platform_fixtures import run_platform

    url = postgres_server.new_database()
    with run_platform(tmp_path_factory, database_url=url, scrypt_n=1024) as p:
        user = p.user()
        with psycopg.connect(url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'shoal' AND datname = current_database()"
            ).fetchone()
        assert ended is not None and ended[0] >= 1
        rounds = []
        with ThreadPoolExecutor(8) as pool:  # enough at once to reach every connection
            for _ in range(3):
                calls = [
                    pool.submit(p.call, "GET", "/api/user/profile", token=user.token)
                    for _ in range(8)
                ]
                rounds.append([c.result()[0] for c in calls])
        every = [s for r in rounds for s in r]
        assert set(every) <= {200, 503} and every.count(503) <= POOL_SIZE, rounds
        assert rounds[-1] == [200] * 8, rounds
        assert p.call("GET", "/api/health")[0] == 200
