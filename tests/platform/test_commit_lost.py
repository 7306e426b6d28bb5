"""A PostgreSQL connection lost while its COMMIT is on the way: the platform finds out
whether the write landed (its transaction's status) and answers with the real outcome. A proxy between
the platform and PostgreSQL cuts the connection once the server has answered a COMMIT (it landed)
or instead of forwarding it (it does not): the caller sees success exactly when the row is
there, else an error saying the change was not saved, and a retry never duplicates it. When
the database cannot be reached to ask, the caller is told nobody knows (and to look before
retrying), never that it failed or succeeded."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from shoal.errors import DatabaseUnavailableError
from shoal.platform.db import Database
from tests.servers.pg_cut_proxy import CommitCutProxy
from tests.servers.platform_fixtures import run_platform
from tests.servers.postgres import PostgresServer


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()


@pytest.fixture
def proxy(postgres_server: PostgresServer) -> Iterator[CommitCutProxy]:
    with CommitCutProxy(postgres_server.port) as running:
        yield running


def count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def users_named(url: str, name: str) -> int:
    return count(url, "SELECT count(*) FROM users WHERE username = %s", name)


async def test_a_commit_cut_off_reports_what_happened(pg_url: str, proxy: CommitCutProxy) -> None:
    db = await Database.open(proxy.url(pg_url))
    try:
        proxy.arm("after")  # the COMMIT reaches the server; its answer never comes back
        made = await db.create_user("landed", "landed@example.com", "hash")
        assert proxy.cuts == 1 and made.username == "landed"
        assert users_named(pg_url, "landed") == 1

        proxy.arm("instead")  # the COMMIT never reaches the server
        with pytest.raises(DatabaseUnavailableError, match="not saved") as caught:
            await db.create_user("lost", "lost@example.com", "hash")
        assert proxy.cuts == 2 and caught.value.saved is False
        assert users_named(pg_url, "lost") == 0
        await db.create_user("lost", "lost@example.com", "hash")  # the retry
        assert users_named(pg_url, "lost") == 1

        # The pool goes on with new connections.
        await db.set_password_hash(made.id, "hash2")
        assert (await db.user("landed")) is not None
    finally:
        await db.close()


def test_the_client_sees_the_real_outcome(
    pg_url: str, proxy: CommitCutProxy, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """End to end: registering through a platform whose database connection is cut at the
    COMMIT."""
    password = "correct horse battery"

    def register(name: str) -> tuple[int, object]:
        body = {"username": name, "email": f"{name}@example.com", "password": password}
        return p.call("POST", "/api/user/register", body)

    with run_platform(tmp_path_factory, database_url=proxy.url(pg_url), scrypt_n=1024) as p:
        proxy.arm("after")
        status, body = register("alice")
        assert proxy.cuts == 1
        assert status == 201, body  # it landed: success, not a 503
        assert users_named(pg_url, "alice") == 1
        assert register("alice")[0] == 409  # a retry anyway finds it, never makes a second

        proxy.arm("instead")
        status, body = register("bob")
        assert proxy.cuts == 2
        assert status == 503 and isinstance(body, dict), body
        assert body["error"] == "write_not_saved" and body["saved"] is False, body
        assert users_named(pg_url, "bob") == 0
        assert register("bob")[0] == 201  # safe to retry: exactly one
        assert users_named(pg_url, "bob") == 1
        status, _ = p.call("POST", "/api/user/token", {"username": "bob", "password": password})
        assert status == 200
        assert p.call("GET", "/api/health")[0] == 200


async def test_an_outcome_nobody_can_check_is_reported_as_unknown(
    pg_url: str, proxy: CommitCutProxy
) -> None:
    db = await Database.open(proxy.url(pg_url))
    try:
        proxy.arm("after", then_refuse=True)  # it lands, and the database is then unreachable
        with pytest.raises(DatabaseUnavailableError, match="could not be checked") as caught:
            await db.create_user("maybe", "maybe@example.com", "hash")
        assert proxy.cuts == 1 and caught.value.saved is None
        assert users_named(pg_url, "maybe") == 1  # it did land: "unknown" was the truth
        proxy.reopen()
        assert (await db.user("maybe")) is not None  # looking first finds it
    finally:
        await db.close()


def test_the_client_is_told_the_outcome_is_unknown(
    pg_url: str, proxy: CommitCutProxy, tmp_path_factory: pytest.TempPathFactory
) -> None:
    body_in = {"username": "carol", "email": "carol@example.com", "password": "a long password"}
    with run_platform(tmp_path_factory, database_url=proxy.url(pg_url), scrypt_n=1024) as p:
        proxy.arm("instead", then_refuse=True)  # it does not land; nobody can ask
        status, body = p.call("POST", "/api/user/register", body_in)
        assert status == 503 and isinstance(body, dict), body
        assert body["error"] == "write_outcome_unknown" and body["saved"] is None, body
        assert "look before trying again" in body["description"]
        assert users_named(pg_url, "carol") == 0
        proxy.reopen()
        assert p.call("POST", "/api/user/register", body_in)[0] == 201
        assert users_named(pg_url, "carol") == 1
