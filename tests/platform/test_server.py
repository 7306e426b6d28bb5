"""The service itself: configuration, the database, health, logs without secrets, the CLI,
and ``shoal serve`` as a process (starts, answers, shuts down cleanly on SIGTERM)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shoal.auth import login_store
from shoal.cli import main as shoal_main
from shoal.errors import PlatformConfigError
from shoal.platform.config import ServerConfig
from shoal.platform.db import MIGRATIONS, Database
from shoal.platform.server import BackgroundServer, configure_logging

from .conftest import Running, StartPlatform, unique

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------------------
# configuration


def test_config_sources_and_priority(tmp_path: Path) -> None:
    path = tmp_path / "platform.toml"
    path.write_text(
        'port = 8001\nhost = "127.0.0.1"\nlog_format = "text"\n'
        '[storage_creds]\naws_access_key_id = "AKID"\naws_secret_access_key = "very-secret"\n'
    )
    env = {"SHOAL_SERVE_PORT": "8002", "SHOAL_SERVE_ALLOW_REGISTRATION": "no"}
    config = ServerConfig.load(path, env=env, data_dir=str(tmp_path), port=None)
    assert config.port == 8002 and config.log_format == "text"
    assert config.allow_registration is False
    assert config.storage_creds["aws_access_key_id"] == "AKID"
    assert "very-secret" not in repr(config) and "AKID" not in repr(config)
    assert ServerConfig.load(path, env=env, port=8003).port == 8003
    assert ServerConfig.load(None, env={"SHOAL_SERVE_CONFIG": str(path)}).port == 8001
    env_json = {"SHOAL_SERVE_STORAGE_CREDS": '{"endpoint_url": "http://127.0.0.1:1"}'}
    assert ServerConfig.load(None, env=env_json).storage_creds == {
        "endpoint_url": "http://127.0.0.1:1"
    }


@pytest.mark.parametrize(
    ("kwargs", "env", "words"),
    [
        ({"prot": 1}, {}, "did you mean 'port'"),
        ({"port": "80"}, {}, "must be int"),
        ({"port": 70000}, {}, "not a TCP port"),
        ({"scrypt_n": 1000}, {}, "power of two"),
        ({"s3_vending": "maybe"}, {}, "s3_vending"),
        ({"secret_key": "short"}, {}, "at least 32"),
        ({}, {"SHOAL_SERVE_PORT": "eighty"}, "SHOAL_SERVE_PORT"),
        ({}, {"SHOAL_SERVE_STORAGE_CREDS": "[1]"}, "JSON object"),
        ({}, {"SHOAL_SERVE_CONFIG": "/nonexistent/shoal.toml"}, "does not exist"),
    ],
)
def test_bad_config(kwargs: dict[str, object], env: dict[str, str], words: str) -> None:
    with pytest.raises(PlatformConfigError, match=words):
        ServerConfig.load(None, env=env, **kwargs)


def test_bad_toml(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("port = = 1")
    with pytest.raises(PlatformConfigError, match="not valid TOML"):
        ServerConfig.load(tmp_path / "c.toml", env={})


def test_unsupported_storage_root(start_platform: StartPlatform) -> None:
    with pytest.raises(PlatformConfigError, match="not supported"):
        start_platform(storage_root="ftp://host/x")
    with pytest.raises(PlatformConfigError, match="sts_role_arn"):
        start_platform(storage_root="s3://bucket/x")


def test_secret_key_file_is_private(tmp_path: Path) -> None:
    config = ServerConfig.load(None, env={}, data_dir=str(tmp_path / "d"))
    key = config.secret()
    assert len(key) >= 32 and config.secret() == key  # created once, then reused
    mode = stat.S_IMODE((tmp_path / "d" / "secret.key").stat().st_mode)
    assert mode == 0o600


# ----------------------------------------------------------------------------------------------
# database


async def test_database_wal_and_migrations(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "p.db")
    assert await db.journal_mode() == "wal" and await db.schema_version() == len(MIGRATIONS)
    await db.create_user("someone", "s@example.com", "hash")
    await db.close()
    db = await Database.open(tmp_path / "p.db")  # reopening runs no migration twice
    assert await db.user("SOMEONE") is not None
    assert await db.schema_version() == len(MIGRATIONS)
    await db.close()
    conn = sqlite3.connect(tmp_path / "p.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(PlatformConfigError, match="newer than this shoal"):
        await Database.open(tmp_path / "p.db")


def test_health(platform: Running) -> None:
    status, body = platform.call("GET", "/api/health")
    assert status == 200
    assert body["status"] == "ok" and body["database"] == "ok" and body["storage"] == "local"


def test_unknown_endpoint_and_method(platform: Running) -> None:
    status, body = platform.call("GET", "/api/nothing")
    assert status == 404 and "openapi.json" in body["description"]
    status, body = platform.call("DELETE", "/api/health")
    assert status == 405 and body["error"] == "method_not_allowed"


# ----------------------------------------------------------------------------------------------
# logs


def test_logs_are_structured_and_hold_no_secrets(start_platform: StartPlatform) -> None:
    buf = io.StringIO()
    p = start_platform(log_level="debug")
    configure_logging(p.config, stream=buf)
    logger = logging.getLogger("shoal.platform")
    try:
        password = "pw-" + unique("secret") + "-x"
        user = p.user(password=password)
        _, api = p.call("POST", "/api/user/tokens", {"name": "ci"}, token=user.token)
        p.call("GET", f"/api/org/{user.name}/ds/ds/creds?mode=w", token=api["token"])
        p.call("POST", "/api/user/token", {"username": user.name, "password": "wrong-" + password})
        p.call("GET", "/api/user/profile", token=user.token + "tampered")
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    text = buf.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    requests = [r for r in lines if r["msg"] == "request"]
    assert {"method", "path", "status", "ms", "user", "ts", "level"} <= set(requests[0])
    assert any(r["status"] == 401 and r["path"] == "/api/user/token" for r in requests)
    for secret in (password, user.token, api["token"], user.token.split(".")[2]):
        assert secret not in text
    assert p.config.secret().decode() not in text


def test_scrub() -> None:
    from shoal.platform.common import scrub

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6ImEifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
    assert jwt not in scrub(f"got {jwt} here")
    assert "hunter2" not in scrub('{"password": "hunter2"}')
    assert "abc" not in scrub("aws_secret_access_key=abc")


# ----------------------------------------------------------------------------------------------
# the CLI


def test_cli_account_flow(
    platform: Running,
    client_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique("cli")
    monkeypatch.setattr("sys.stdin", io.StringIO("a good password\n"))
    argv = ["register", "-u", name, "-e", f"{name}@example.com", "--password-stdin"]
    assert shoal_main(argv) == 0
    login = client_env / "login.json"
    assert stat.S_IMODE(login.stat().st_mode) == 0o600
    assert stat.S_IMODE(client_env.stat().st_mode) == 0o700
    stored = json.loads(login.read_text())
    assert stored["username"] == name and stored["server"] == platform.url
    assert stored["expires_at"] - time.time() > 999 * 3600
    capsys.readouterr()

    assert shoal_main(["whoami"]) == 0
    out = capsys.readouterr().out
    assert name in out and "login token" in out and str(login) in out

    assert shoal_main(["token", "create", "--name", "ci", "--expires", "7d"]) == 0
    captured = capsys.readouterr()
    api_token = captured.out.strip()
    assert "shown only once" in captured.err
    assert shoal_main(["token", "list"]) == 0
    assert "ci" in capsys.readouterr().out
    assert shoal_main(["token", "create", "--name", "ci"]) == 2
    assert "already have an API token named 'ci'" in capsys.readouterr().err
    assert shoal_main(["token", "create", "--name", "x", "--expires", "forever"]) == 2
    assert "cannot read the duration" in capsys.readouterr().err

    old_login = stored["token"]
    assert shoal_main(["logout"]) == 0
    assert not login.exists()
    status, body = platform.call("GET", "/api/user/profile", token=old_login)
    assert status == 401 and body["error"] == "token_revoked"
    assert shoal_main(["whoami"]) == 1
    capsys.readouterr()

    assert shoal_main(["login", "--token", api_token]) == 0
    assert shoal_main(["whoami"]) == 0
    assert "API token 'ci'" in capsys.readouterr().out
    assert shoal_main(["token", "revoke", "ci"]) == 0
    assert shoal_main(["whoami"]) == 2
    err = capsys.readouterr().err
    assert "'ci' was revoked" in err and "shoal token create" in err
    assert shoal_main(["logout"]) == 0  # an unusable token is still forgotten

    monkeypatch.setattr("sys.stdin", io.StringIO("not the password\n"))
    assert shoal_main(["login", "-u", name, "--password-stdin"]) == 2
    assert "wrong username or password" in capsys.readouterr().err
    assert not login.exists()


def test_cli_orgs(platform: Running, capsys: pytest.CaptureFixture[str]) -> None:
    owner, member = platform.user(), platform.user()
    org = unique("team")
    assert shoal_main(["login", "--token", owner.token]) == 0
    assert shoal_main(["org", "create", org]) == 0
    assert shoal_main(["org", "add", org, member.name, "--role", "write"]) == 0
    assert shoal_main(["org", "members", org]) == 0
    out = capsys.readouterr().out
    assert f"{member.name}" in out and "write" in out
    assert shoal_main(["org", "list"]) == 0
    assert org in capsys.readouterr().out
    assert shoal_main(["org", "remove", org, member.name]) == 0
    assert shoal_main(["org", "add", org, "no-such-user-zz"]) == 2
    assert "no user named" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# `shoal serve` as a process


def test_serve_process_starts_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOAL_SERVE_", "SHOAL_TOKEN"))}
    env["SHOAL_SERVE_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONPATH"] = str(REPO / "python")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shoal.cli", "serve", "--port", "0", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line + (
            proc.stderr.read() if proc.stderr else ""
        )
        url = line.split("listening on ")[1].split()[0]
        with urllib.request.urlopen(url + "/api/health", timeout=10) as resp:
            assert json.loads(resp.read())["status"] == "ok"
        # A second server on the same port fails with a clear message.
        port = url.rsplit(":", 1)[1]
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "shoal.cli",
                "serve",
                "--port",
                port,
                "--data-dir",
                str(tmp_path / "d2"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2 and "cannot listen on" in second.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert proc.stderr is not None
        logs = [json.loads(x) for x in proc.stderr.read().splitlines() if x.startswith("{")]
        assert [r["msg"] for r in logs][-2:] == ["shutting down", "platform stopped"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert (tmp_path / "data" / "platform.db").is_file()


def test_background_server_port_taken(tmp_path: Path, shared_platform: Running) -> None:
    port = int(shared_platform.url.rsplit(":", 1)[1])
    config = ServerConfig.load(None, env={}, data_dir=str(tmp_path), port=port)
    with pytest.raises(PlatformConfigError, match="cannot listen"):
        BackgroundServer(config).start()


def test_stored_login_damaged(client_env: Path) -> None:
    client_env.mkdir(parents=True, exist_ok=True)
    (client_env / "login.json").write_text("{not json")
    with pytest.raises(PlatformConfigError, match="shoal logout"):
        login_store.read_login()


def test_client_survives_a_platform_restart(tmp_path: Path) -> None:
    """The keep-alive connection dies with the server; the next call reconnects, and the
    database (users, tokens) survives the restart."""
    from shoal.auth.platform_api import PlatformClient, run
    from shoal.errors import PlatformConnectionError

    config = ServerConfig.load(None, env={}, data_dir=str(tmp_path), port=0, log_level="warning")
    with BackgroundServer(config) as first:
        port = int(first.url.rsplit(":", 1)[1])
        client = PlatformClient(first.url)
        run(client.register("restarter", "r@example.com", "long enough"))
        token = run(client.login("restarter", "long enough"))["token"]
    with pytest.raises(PlatformConnectionError, match="shoal serve"):
        run(PlatformClient(first.url, token).profile())
    config = ServerConfig.load(None, env={}, data_dir=str(tmp_path), port=port, log_level="warning")
    with BackgroundServer(config):
        assert run(PlatformClient(first.url, token).profile())["_id"] == "restarter"
