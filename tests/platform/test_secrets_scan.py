"""Known secrets planted everywhere a platform takes them in — a password, a password typed
into the username field, login and API tokens, the server's AWS keys, an org's AWS keys and
GCS service-account key, the token signing key, the encryption key of managed credentials and
the PostgreSQL password — then every log line, response body, error message, repr, CLI
output, dataset file and database file (the SQLite files, or a ``pg_dump`` of PostgreSQL) is
scanned for them: none may be found. A token may appear only in the one response that
issues it."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.platform.config import ServerConfig
from shoal.platform.creds_store import CredsKey
from shoal.platform.creds_vending import Grant
from tests.servers.postgres import PostgresServer, pg_bin
from tests.servers.serve_process import REPO, ServeProcess, http


def _mark(what: str) -> str:
    return f"{what}{secrets.token_hex(12)}"


PASSWORD = _mark("pw")
TYPED_AS_NAME = _mark("Pw")  # a password typed into the username field
SERVER_AWS = _mark("srvaws")
ORG_AKID = "AKIA" + secrets.token_hex(8).upper()
ORG_AWS = _mark("orgaws")
GCS_PRIVATE = _mark("gcskey")
SIGNING_KEY = _mark("sign") * 2
ENC_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


class Seen:
    """Everything the platform said back, by where it came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.issued: dict[str, str] = {}  # token -> the response that issued it

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def call(
        self, url: str, method: str = "GET", body: Any = None, token: str | None = None
    ) -> Any:
        status, got = http(url, method, body, token)
        self.add(f"{method} {url} -> {status}", json.dumps(got))
        return status, got


def _scan(secrets_: dict[str, str], seen: Seen) -> list[str]:
    found = []
    for where, text in seen.texts:
        for name, value in secrets_.items():
            if value in text and seen.issued.get(value) != where:
                found.append(f"{name} in {where}")
    return found


def _files(root: Path) -> list[tuple[str, bytes]]:
    return [(str(p), p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_no_planted_secret_is_found_anywhere(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = {
        "password": PASSWORD,
        "password typed as a username": TYPED_AS_NAME,
        "server AWS secret": SERVER_AWS,
        "org AWS key id": ORG_AKID,
        "org AWS secret": ORG_AWS,
        "GCS private key": GCS_PRIVATE,
        "signing key": SIGNING_KEY,
        "encryption key": ENC_KEY,
    }
    settings: dict[str, Any] = {
        "log_level": "debug",
        "scrypt_n": 1024,
        "secret_key": SIGNING_KEY,
        "creds_encryption_keys": f"k1:{ENC_KEY}",
        "storage_creds": {"aws_access_key_id": "AKIASERVER", "aws_secret_access_key": SERVER_AWS},
        "storage_root": str(tmp_path / "datasets"),
    }
    pg: PostgresServer | None = None
    if backend == "postgres":
        pg = request.getfixturevalue("postgres_server")
        settings["database_url"] = pg.new_database()
        planted["PostgreSQL password"] = pg.password
    seen = Seen()
    proc = ServeProcess(tmp_path / "data", **settings)
    try:
        url = proc.start().url
        planted.update(_exercise(url, seen, tmp_path, monkeypatch))
    finally:
        proc.stop()
    seen.add("server log", proc.log_path.read_text())
    assert seen.texts[-1][1].count("\n") > 20  # the log is there, at debug level
    for path, data in _files(tmp_path / "data") + _files(tmp_path / "datasets"):
        seen.add(path, data.decode("latin-1"))
    if pg is not None:
        bindir = pg_bin()
        assert bindir is not None
        dump = subprocess.run(
            [str(Path(bindir) / "pg_dump"), "--data-only", "-d", str(settings["database_url"])],
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout.decode("latin-1")
        assert "COPY public.users" in dump and "scrypt" in dump  # the dump holds the rows
        seen.add("pg_dump", dump)
    config = ServerConfig.load(None, env={}, **settings)
    seen.add("repr(ServerConfig)", repr(config))
    seen.add("repr(CredsKey)", repr(CredsKey(1, "k", "aws-keys", False, 0.0, {"x": ORG_AWS})))
    seen.add("repr(Grant)", repr(Grant("s3://b/p", {"aws_secret_access_key": ORG_AWS}, 0.0)))
    assert _scan(planted, seen) == []
    # the scan finds what is there: each token, in the one response that issued it
    issued, seen.issued = seen.issued, {}
    assert len(_scan(planted, seen)) == len(issued) == 2


def _exercise(
    url: str, seen: Seen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Use every part of the platform once; the tokens it issued, by name."""
    issued: dict[str, str] = {}
    body = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
    assert seen.call(url + "/api/user/register", "POST", body)[0] == 201
    login = {"username": "alice", "password": PASSWORD}
    _, got = seen.call(url + "/api/user/token", "POST", login)
    token = got["token"]
    seen.issued[token] = seen.texts[-1][0]
    issued["login token"] = token
    _, got = seen.call(url + "/api/user/tokens", "POST", {"name": "ci"}, token)
    api = got["token"]
    seen.issued[api] = seen.texts[-1][0]
    issued["API token"] = api
    # wrong logins, one with a password typed into the username field
    seen.call(url + "/api/user/token", "POST", {"username": TYPED_AS_NAME, "password": PASSWORD})
    seen.call(url + "/api/user/token", "POST", {"username": "alice", "password": PASSWORD + "x"})
    seen.call(url + "/api/user/profile", token=api + "x")
    seen.call(url + "/api/user/profile", token=api)
    assert seen.call(url + "/api/organizations", "POST", {"name": "acme"}, token)[0] == 201
    aws = {"aws_access_key_id": ORG_AKID, "aws_secret_access_key": ORG_AWS}
    gcs = {"type": "service_account", "client_email": "sa@p.iam", "private_key": GCS_PRIVATE}
    creds = url + "/api/org/acme/creds"
    assert (
        seen.call(creds, "POST", {"name": "keys", "kind": "aws-keys", "secret": aws}, token)[0]
        == 201
    )
    assert (
        seen.call(creds, "POST", {"name": "sa", "kind": "gcs-key", "secret": gcs}, token)[0] == 201
    )
    bad = {"name": "bad", "kind": "aws-keys", "secret": {**aws, "x": ORG_AWS}}
    assert seen.call(creds, "POST", bad, token)[0] == 400
    bad = {
        "name": "bad",
        "kind": "aws-keys",
        "secret": {"aws_access_key_id": 1, "aws_secret_access_key": ORG_AWS},
    }
    assert seen.call(creds, "POST", bad, token)[0] == 400
    seen.call(creds, token=token)
    seen.call(creds + "/keys", token=token)
    seen.call(creds + "/sa", token=token)
    seen.call(url + "/api/org/acme/ds/data/creds?mode=w", token=api)
    # a dataset written through hub:// with the API token, read back
    monkeypatch.setenv("SHOAL_PLATFORM_URL", url)
    ds = shoal.empty("hub://acme/data", token=api)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(10))
    ds.flush()
    assert shoal.load(
        "hub://acme/data", token=api, read_only=True
    ).x.numpy().ravel().tolist() == list(range(10))
    # the CLI, as a user would run it
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env.update(SHOAL_TOKEN=api, SHOAL_PLATFORM_URL=url, SHOAL_CONFIG_DIR=str(tmp_path / "cli"))
    env["PYTHONPATH"] = str(REPO / "python")
    for args in (
        ["whoami"],
        ["token", "list"],
        ["creds", "list", "--org", "acme"],
        ["creds", "show", "keys", "--org", "acme"],
        ["dataset", "list", "acme"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "shoal.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        seen.add("shoal " + " ".join(args), out.stdout + out.stderr)
    return issued
