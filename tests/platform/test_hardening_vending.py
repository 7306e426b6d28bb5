"""What credentials leave the platform, and what the hub:// client accepts from one.

* ``s3_vending = "static"`` (a store without STS) never hands the server's keys to a reader or
  an anonymous caller: they read through the platform instead (SeaweedFS on loopback).
* The client uses only what a platform vends: a rogue platform (a loopback HTTP server here)
  cannot make it use the user's own cloud credentials, write to local paths or other stores,
  and plain http:// goes to loopback only unless the user opts in.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.auth.hub_trust import INSECURE_ENV, vetted_store
from shoal.errors import InsecureConnectionError, PlatformConnectionError, UntrustedGrantError
from shoal.storage._hub import HubStorage
from shoal.storage._hub_proxy import PlatformReadStorage
from tests.servers.s3_fixtures import S3Server

from .conftest import Running, StartPlatform, unique

# ----------------------------------------------------------------------------------------------
# static vending


@pytest.fixture
def static_platform(
    start_platform: StartPlatform, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Running:
    p = start_platform(
        storage_root=f"s3://{s3_server.bucket}/{unique('static')}",
        storage_creds=s3_server.creds(),
        s3_vending="static",
    )
    monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
    return p


def test_static_vending_never_gives_readers_the_server_keys(
    static_platform: Running, s3_server: S3Server
) -> None:
    owner, reader = static_platform.user(), static_platform.user()
    secret = s3_server.creds()["aws_secret_access_key"]
    key_id = s3_server.creds()["aws_access_key_id"]
    path = f"hub://{owner.name}/pub"
    ds = shoal.empty(path, token=owner.token)
    ds.create_tensor("x", htype="generic", dtype="int32")
    ds.x.extend(np.arange(12, dtype=np.int32).reshape(4, 3))
    status, _ = static_platform.call(
        "PUT", f"/api/org/{owner.name}/dataset/pub", {"public": True}, token=owner.token
    )
    assert status == 200
    for token in (None, reader.token, "PUBLIC_TOKEN_x"):
        for mode in ("r", "w", ""):
            status, grant = static_platform.call(
                "GET", f"/api/org/{owner.name}/ds/pub/creds?mode={mode}", token=token
            )
            assert status == 200 and grant["mode"] == "r"
            text = json.dumps(grant)
            assert secret not in text and key_id not in text
            assert grant["creds"] == {} and grant["read_via"] == "platform"
    # Anonymous and reader clients still read, through the platform.
    for token in (None, reader.token):
        got = shoal.load(path, read_only=True, token=token)
        assert isinstance(got._engine.storage, HubStorage)
        assert isinstance(got._engine.storage.inner, PlatformReadStorage)
        np.testing.assert_array_equal(got.x.numpy(), np.arange(12).reshape(4, 3))
    # Keys outside the dataset are refused; a private dataset is not readable anonymously.
    status, _ = static_platform.call(
        "GET", f"/api/org/{owner.name}/ds/pub/object?key=../other/dataset_meta.json"
    )
    assert status == 400
    status, _ = static_platform.call(
        "PUT", f"/api/org/{owner.name}/dataset/pub", {"public": False}, token=owner.token
    )
    status, _ = static_platform.call(
        "GET", f"/api/org/{owner.name}/ds/pub/object?key=dataset_meta.json"
    )
    assert status == 401
    # The owner (a writer) still writes with the keys the config opted in to.
    status, grant = static_platform.call(
        "GET", f"/api/org/{owner.name}/ds/pub/creds?mode=w", token=owner.token
    )
    assert status == 200 and grant["mode"] == "a" and grant["creds"]["aws_access_key_id"]


# ----------------------------------------------------------------------------------------------
# a rogue platform


class _Rogue(ThreadingHTTPServer):
    answer: dict[str, Any]
    seen: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Rogue

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        body = json.dumps(self.server.answer if "/creds" in self.path else {}).encode()
        self.send_response(200 if "/creds" in self.path else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def rogue(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Rogue]:
    server = _Rogue(("127.0.0.1", 0), _Handler)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SHOAL_PLATFORM_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield server
    server.shutdown()
    server.server_close()


def _grant(path: str, creds: dict[str, Any]) -> dict[str, Any]:
    return {"path": path, "creds": creds, "mode": "a", "registered": True, "role": "admin"}


def test_client_never_uses_ambient_google_credentials(rogue: _Rogue) -> None:
    endpoint = f"http://127.0.0.1:{rogue.server_address[1]}"
    rogue.answer = _grant(
        "gcs://victim-bucket/ds", {"method": "google_default", "endpoint_url": endpoint}
    )
    with pytest.raises(UntrustedGrantError, match="Google"):
        shoal.load("hub://org/ds", token="t")
    assert all("/creds" in p for p in rogue.seen)  # nothing went to the "storage"


def test_client_never_uses_ambient_aws_credentials(
    rogue: _Rogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSOWNKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-own-secret")
    rogue.answer = _grant("s3://victim-bucket/ds", {})
    with pytest.raises(UntrustedGrantError, match="AWS"):
        shoal.empty("hub://org/ds", token="t")
    rogue.answer = _grant("memory://ds", {})
    with pytest.raises(UntrustedGrantError):
        shoal.empty("hub://org/ds2", token="t")


def test_vended_endpoint_over_http_must_be_loopback(rogue: _Rogue) -> None:
    creds = {"aws_access_key_id": "a", "aws_secret_access_key": "b"}
    rogue.answer = _grant("s3://b/ds", {**creds, "endpoint_url": "http://192.0.2.7:9000"})
    with pytest.raises(InsecureConnectionError, match=INSECURE_ENV):
        shoal.empty("hub://org/ds", token="t")


def test_local_paths_only_from_a_platform_on_this_machine() -> None:
    assert vetted_store("/data/ds", {}, "http://127.0.0.1:7777").scheme == "file"
    with pytest.raises(UntrustedGrantError, match="local"):
        vetted_store("/home/me/.ssh", {}, "https://platform.example.com")


def test_plain_http_to_a_remote_platform_needs_an_opt_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOAL_PLATFORM_URL", "http://192.0.2.10:7777")
    with pytest.raises(InsecureConnectionError, match=INSECURE_ENV):
        shoal.load("hub://org/ds", token="secret-token")
    # Opted in, the client tries to connect (the test guard keeps it on loopback).
    monkeypatch.setenv(INSECURE_ENV, "1")
    with pytest.raises(PlatformConnectionError) as info:
        shoal.load("hub://org/ds", token="secret-token")
    assert not isinstance(info.value, InsecureConnectionError)
