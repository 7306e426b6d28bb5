"""Logins and tokens under attack: parallel guessing, lockouts, what the log keeps, tokens
that mint tokens, visibility changes by writers, and hostile input that must never be a 500."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import Running, StartPlatform, unique


def call_from(p: Running, source: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request from the loopback address ``source`` (127.0.0.x)."""
    url = urlsplit(p.url)
    conn = http.client.HTTPConnection(
        url.hostname or "", url.port, timeout=30, source_address=(source, 0)
    )
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def test_parallel_wrong_logins_are_counted_and_throttle_only_that_address(
    start_platform: StartPlatform,
) -> None:
    p = start_platform(login_max_failures=5, login_backoff=3.0)
    user = p.user()
    wrong = {"username": user.name, "password": "not the password"}
    with ThreadPoolExecutor(30) as pool:
        statuses = list(
            pool.map(
                lambda _: call_from(p, "127.0.0.1", "POST", "/api/user/token", wrong)[0], range(30)
            )
        )
    assert statuses.count(401) == 5 and statuses.count(429) == 25, statuses
    # The owner, from another address, is not locked out.
    right = {"username": user.name, "password": user.password}
    assert call_from(p, "127.0.0.2", "POST", "/api/user/token", right)[0] == 200
    # From the guessing address: a backoff, not a lockout for the whole window.
    status, body = call_from(p, "127.0.0.1", "POST", "/api/user/token", right)
    assert status == 429 and 0 < body["retry_after"] <= 3.0
    time.sleep(body["retry_after"] + 0.05)
    assert call_from(p, "127.0.0.1", "POST", "/api/user/token", right)[0] == 200


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + " " + json.dumps(getattr(record, "fields", {})))


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    logger = logging.getLogger("shoal.platform")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_password_typed_as_username_is_not_logged(platform: Running, log_lines: _Lines) -> None:
    user = platform.user()
    typed = "Tr0ub4dor&3-secret"
    for _ in range(7):  # failures, then rate limited
        platform.call("POST", "/api/user/token", {"username": typed, "password": "x"})
    platform.call("POST", "/api/user/token", {"username": user.name, "password": "wrong"})
    text = "\n".join(log_lines.lines)
    assert "login failed" in text and "login rate limited" in text
    assert typed not in text and typed[:8] not in text
    assert user.name in text  # a real account is still named


# ----------------------------------------------------------------------------------------------
# tokens minting tokens


def test_an_api_token_cannot_mint_tokens(platform: Running) -> None:
    user = platform.user()
    status, made = platform.call(
        "POST", "/api/user/tokens", {"name": "ci", "expires": "30d"}, token=user.token
    )
    assert status == 201
    status, body = platform.call(
        "POST", "/api/user/tokens", {"name": "child", "expires": "3650d"}, token=made["token"]
    )
    assert status == 403 and "login" in body["description"]


def test_a_child_token_never_outlives_its_parent(platform: Running) -> None:
    user = platform.user()
    status, parent = platform.call(
        "POST",
        "/api/user/tokens",
        {"name": "minter", "expires": "1d", "can_create_tokens": True},
        token=user.token,
    )
    assert status == 201
    status, child = platform.call(
        "POST", "/api/user/tokens", {"name": "child", "expires": "3650d"}, token=parent["token"]
    )
    assert status == 201 and child["expires_at"] <= parent["expires_at"]
    # The child may not mint in turn, and dies with its parent.
    status, _ = platform.call(
        "POST", "/api/user/tokens", {"name": "grandchild"}, token=child["token"]
    )
    assert status == 403
    assert platform.call("GET", "/api/user/profile", token=child["token"])[0] == 200
    status, _ = platform.call("DELETE", "/api/user/tokens/minter", token=user.token)
    assert status == 200
    status, body = platform.call("GET", "/api/user/profile", token=child["token"])
    assert status == 401 and body["error"] == "token_revoked"
    # Only a login session may grant the right to mint.
    status, _ = platform.call(
        "POST",
        "/api/user/tokens",
        {"name": "sneaky", "can_create_tokens": True},
        token=child["token"],
    )
    assert status in (401, 403)


# ----------------------------------------------------------------------------------------------
# visibility


def test_a_writer_cannot_make_a_public_dataset_private(platform: Running) -> None:
    owner, writer = platform.user(), platform.user()
    org = unique("org")
    platform.call("POST", "/api/organizations", {"name": org}, token=owner.token)
    platform.call(
        "PUT",
        f"/api/organizations/{org}/members/{writer.name}",
        {"role": "write"},
        token=owner.token,
    )
    status, _ = platform.call(
        "POST", "/api/dataset/create", {"tag": f"{org}/d", "public": True}, token=owner.token
    )
    assert status == 200
    status, _ = platform.call(
        "POST", "/api/dataset/create", {"tag": f"{org}/d", "public": False}, token=writer.token
    )
    assert status == 403
    status, info = platform.call("GET", f"/api/org/{org}/dataset/d")
    assert status == 200 and info["public"] is True
    # Re-creating it without a visibility keeps it as it is.
    status, info = platform.call(
        "POST", "/api/dataset/create", {"tag": f"{org}/d"}, token=writer.token
    )
    assert status == 200 and info["public"] is True
    # The admin may change it.
    status, info = platform.call(
        "POST", "/api/dataset/create", {"tag": f"{org}/d", "public": False}, token=owner.token
    )
    assert status == 200 and info["public"] is False


# ----------------------------------------------------------------------------------------------
# hostile input


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_hostile_input_is_a_client_error(platform: Running) -> None:
    user = platform.user()
    for raw in (b'{"name": "n1", "expires_in": NaN}', b'{"name": "n2", "expires_in": Infinity}'):
        status, body = platform.call("POST", "/api/user/tokens", raw=raw, token=user.token)
        assert status == 400, body
    nested = b"[" * 100_000 + b"]" * 100_000
    status, _ = platform.call("POST", "/api/event", raw=nested)
    assert status == 400
    status, _ = platform.call("POST", "/api/event", raw=b'{"a":' * 50_000 + b"1" + b"}" * 50_000)
    assert status in (400, 413)
    header = _b64(b"[" * 1500 + b"]" * 1500)
    token = f"{header}.{_b64(b'{}')}.{_b64(b'sig')}"
    status, body = platform.call("GET", "/api/user/profile", token=token)
    assert status == 401, body
