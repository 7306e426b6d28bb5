"""Accounts, logins, API tokens: the happy paths and every kind of bad input, over raw HTTP
(status + message) and through the Python client (the error class + message)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

import shoal
from shoal.auth.platform_api import PlatformClient, run
from shoal.errors import (
    AuthenticationError,
    InvalidRequestError,
    PlatformConflictError,
    PlatformConnectionError,
    RateLimitedError,
    TokenExpiredError,
    TokenRevokedError,
)
from shoal.platform import tokens

from .conftest import Running, StartPlatform, unique


def test_register_login_profile(platform: Running) -> None:
    name = unique("alice")
    status, body = platform.call(
        "POST",
        "/api/user/register",
        {"username": name, "email": f"{name}@example.com", "password": "s3cret-pass"},
    )
    assert status == 201 and body["organizations"] == [name]
    status, body = platform.call(
        "POST", "/api/user/token", {"username": name, "password": "s3cret-pass"}
    )
    assert status == 200
    token = body["token"]
    # A JWT the deeplake client can decode without verifying; login tokens live 1000 hours.
    claims = tokens.decode_unverified(token)
    assert claims is not None and claims["id"] == name and claims["typ"] == "login"
    assert claims["exp"] - claims["iat"] == 1000 * 3600
    status, body = platform.call("GET", "/api/user/profile", token=token)
    assert status == 200
    assert body["_id"] == name and body["organizations"] == [name]


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        ({"username": "x y", "email": "a@b.co", "password": "longenough"}, 400, "invalid username"),
        ({"username": "-x", "email": "a@b.co", "password": "longenough"}, 400, "invalid username"),
        ({"username": "public", "email": "a@b.co", "password": "longenough"}, 400, "reserved"),
        ({"username": "okname", "email": "nope", "password": "longenough"}, 400, "email"),
        ({"username": "okname", "email": "a@b.co", "password": "short"}, 400, "at least 8"),
        ({"username": "okname", "email": "a@b.co"}, 400, "'password'"),
        ({"username": 5, "email": "a@b.co", "password": "longenough"}, 400, "'username'"),
    ],
)
def test_register_rejects_bad_input(
    platform: Running, payload: dict[str, object], status: int, words: str
) -> None:
    got, body = platform.call("POST", "/api/user/register", payload)
    assert got == status, body
    assert words in body["description"]


def test_register_rejects_bad_json(platform: Running) -> None:
    assert platform.call("POST", "/api/user/register", raw=b"{nope")[0] == 400
    status, body = platform.call("POST", "/api/user/register", raw=b"[1, 2]")
    assert status == 400 and "JSON object" in body["description"]


def test_duplicate_registration(platform: Running) -> None:
    user = platform.user()
    status, body = platform.call(
        "POST",
        "/api/user/register",
        {"username": user.name.upper(), "email": "other@example.com", "password": "longenough"},
    )
    assert status == 409 and "taken" in body["description"]
    status, body = platform.call(
        "POST",
        "/api/user/register",
        {
            "username": unique("other"),
            "email": f"{user.name}@example.com",
            "password": "longenough",
        },
    )
    assert status == 409 and "email" in body["description"]
    with pytest.raises(PlatformConflictError, match="taken"):
        run(PlatformClient().register(user.name, "x@example.com", "longenough"))


def test_wrong_password_and_unknown_user(platform: Running) -> None:
    user = platform.user()
    for name, pw in ((user.name, "wrong password"), (unique("ghost"), "whatever1")):
        status, body = platform.call("POST", "/api/user/token", {"username": name, "password": pw})
        assert status == 401
        assert body["description"] == "wrong username or password"
    with pytest.raises(AuthenticationError, match="wrong username or password"):
        run(PlatformClient().login(user.name, "wrong password"))


def test_failed_logins_are_rate_limited(start_platform: StartPlatform) -> None:
    p = start_platform(login_max_failures=3, login_window=60.0)
    user = p.user()
    for _ in range(3):
        assert (
            p.call("POST", "/api/user/token", {"username": user.name, "password": "bad1bad1"})[0]
            == 401
        )
    status, body = p.call(
        "POST", "/api/user/token", {"username": user.name, "password": "bad1bad1"}
    )
    assert status == 429 and "too many failed logins" in body["description"]
    assert body["retry_after"] > 0
    # Even the right password waits: the limit is checked before the password.
    status, _ = p.call(
        "POST", "/api/user/token", {"username": user.name, "password": user.password}
    )
    assert status == 429
    with pytest.raises(RateLimitedError) as info:
        run(PlatformClient(p.url).login(user.name, user.password))
    assert info.value.retry_after > 0
    # Another user is not affected.
    other = p.user()
    assert p.call("GET", "/api/user/profile", token=other.token)[0] == 200


def test_missing_malformed_and_tampered_tokens(platform: Running) -> None:
    user = platform.user()
    status, body = platform.call("GET", "/api/user/profile")
    assert status == 401 and "shoal login" in body["description"]
    for bad in ("not-a-token", "a.b", "a.b.c", "Zm9v.YmFy.YmF6"):
        status, body = platform.call("GET", "/api/user/profile", token=bad)
        assert status == 401 and body["error"] == "token_invalid", bad
        assert "malformed" in body["description"]
    head, payload, sig = user.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["id"] = claims["sub"] = "somebody-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    status, body = platform.call("GET", "/api/user/profile", token=f"{head}.{forged}.{sig}")
    assert status == 401 and "signature is invalid" in body["description"]
    # A token signed by another server's key.
    other, _ = tokens.issue(b"k" * 32, username=user.name, kind="login", lifetime=60)
    status, body = platform.call("GET", "/api/user/profile", token=other)
    assert status == 401 and "signature" in body["description"]
    status, body = platform.call(
        "GET", "/api/user/profile", headers={"Authorization": "Basic dXNlcjpwdw=="}
    )
    assert status == 401 and "Bearer" in body["description"]
    with pytest.raises(AuthenticationError, match="malformed"):
        run(PlatformClient(token="garbage").profile())


def test_expired_token_says_when_and_how_to_fix(platform: Running) -> None:
    user = platform.user()
    status, body = platform.call(
        "POST", "/api/user/tokens", {"name": "short", "expires_in": 1}, token=user.token
    )
    assert status == 201
    short = body["token"]
    # Wait for the token's own exp (a whole second, at most 1 s away), not a fixed sleep.
    expires = tokens.decode_unverified(short)["exp"]  # type: ignore[index]
    while time.time() < expires:
        time.sleep(min(0.05, max(0.0, expires - time.time())))
    status, body = platform.call("GET", "/api/user/profile", token=short)
    assert status == 401 and body["error"] == "token_expired"
    assert "expired at" in body["description"] and "shoal token create" in body["description"]
    with pytest.raises(TokenExpiredError) as info:
        shoal.load(f"hub://{user.name}/anything", token=short)
    text = str(info.value)
    assert "expired at 20" in text and "shoal token create" in text and "token= argument" in text
    assert info.value.expired_at is not None
    assert isinstance(info.value, PermissionError)


def test_expired_login_token_points_to_shoal_login(platform: Running) -> None:
    user = platform.user()
    state_secret = platform.config.secret()
    # Sign an already-expired login token with the server's key and record it.
    token, _ = tokens.issue(state_secret, username=user.name, kind="login", lifetime=-10)
    status, body = platform.call("GET", "/api/user/profile", token=token)
    assert status == 401 and "shoal login" in body["description"]


def test_api_tokens_create_list_revoke(platform: Running) -> None:
    user = platform.user()
    status, body = platform.call(
        "POST", "/api/user/tokens", {"name": "ci", "expires": "30d"}, token=user.token
    )
    assert status == 201
    api = body["token"]
    assert tokens.decode_unverified(api)["typ"] == "api"  # type: ignore[index]
    # Same name again while active: conflict.
    status, body = platform.call("POST", "/api/user/tokens", {"name": "ci"}, token=user.token)
    assert status == 409 and "shoal token revoke ci" in body["description"]
    status, body = platform.call("GET", "/api/user/tokens", token=api)
    assert [t["name"] for t in body["tokens"]] == ["ci"]
    assert body["tokens"][0]["status"] == "active" and "token" not in body["tokens"][0]
    assert platform.call("GET", "/api/user/profile", token=api)[0] == 200
    assert platform.call("DELETE", "/api/user/tokens/ci", token=user.token)[0] == 200
    status, body = platform.call("GET", "/api/user/profile", token=api)
    assert status == 401 and body["error"] == "token_revoked"
    assert "'ci' was revoked" in body["description"]
    with pytest.raises(TokenRevokedError, match="revoked"):
        shoal.exists(f"hub://{user.name}/x", token=api)
    status, body = platform.call("DELETE", "/api/user/tokens/ci", token=user.token)
    assert status == 404
    # The name is free again.
    assert platform.call("POST", "/api/user/tokens", {"name": "ci"}, token=user.token)[0] == 201


@pytest.mark.parametrize(
    "body",
    [
        {"name": "bad name"},
        {"name": "ok", "expires": "soon"},
        {"name": "ok", "expires": "-5d"},
        {"name": "ok", "expires": "99999d"},
        {"name": "ok", "expires_in": "10"},
        {"name": "ok", "expires_in": True},
        {},
    ],
)
def test_bad_token_requests(platform: Running, body: dict[str, object]) -> None:
    user = platform.user()
    status, answer = platform.call("POST", "/api/user/tokens", body, token=user.token)
    assert status == 400, answer
    assert platform.call("GET", "/api/user/tokens", token=user.token)[1]["tokens"] == []


def test_logout_revokes_the_login_token(platform: Running) -> None:
    user = platform.user()
    assert platform.call("POST", "/api/user/logout", token=user.token)[0] == 200
    status, body = platform.call("GET", "/api/user/profile", token=user.token)
    assert status == 401 and "shoal login" in body["description"]


def test_public_token_is_anonymous(platform: Running) -> None:
    status, body = platform.call("GET", "/api/user/profile", token="PUBLIC_TOKEN_" + "_" * 150)
    assert status == 401 and body["error"] == "not_authenticated"


def test_registration_can_be_closed(start_platform: StartPlatform) -> None:
    p = start_platform(allow_registration=False)
    status, body = p.call(
        "POST",
        "/api/user/register",
        {"username": "a1", "email": "a@b.co", "password": "longenough"},
    )
    assert status == 403 and "closed" in body["description"]


def test_unreachable_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers.seaweedfs import free_port

    monkeypatch.setenv("SHOAL_PLATFORM_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PlatformConnectionError, match="cannot reach the shoal platform"):
        shoal.exists("hub://org/name", token="t")


def test_invalid_names_in_client() -> None:
    with pytest.raises(InvalidRequestError, match="invalid name"):
        run(PlatformClient("http://127.0.0.1:9").members("bad/name"))


def test_token_units() -> None:
    assert tokens.parse_duration("30d") == 30 * 86400
    assert tokens.parse_duration("90m") == 5400
    assert tokens.parse_duration("3600") == 3600
    assert tokens.parse_duration("2w") == 14 * 86400
    for bad in ("", "d", "1y", "-1d", "0"):
        with pytest.raises(ValueError):
            tokens.parse_duration(bad)


def test_only_hs256_tokens_with_every_claim_are_accepted() -> None:
    key = b"k" * 64  # long enough for HS512 too
    good, claims = tokens.issue(key, username="ann", kind="api", name="ci", lifetime=60)
    assert tokens.verify(key, good) == claims
    payload = tokens.decode_unverified(good)
    assert payload is not None and payload["id"] == payload["sub"] == "ann"
    # Algorithm pinning: an unsigned token, or one signed with another HMAC, is refused.
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    unsigned = f"{head}.{good.split('.')[1]}."
    hs512 = jwt.encode(payload, key, algorithm="HS512")
    for bad in (unsigned, hs512):
        with pytest.raises(tokens.TokenError, match="unsupported algorithm") as info:
            tokens.verify(key, bad)
        assert info.value.kind == "malformed"
    # A correctly signed token that lacks a claim the server relies on.
    del payload["jti"]
    with pytest.raises(tokens.TokenError, match="bad claims"):
        tokens.verify(key, jwt.encode(payload, key, algorithm="HS256"))
    with pytest.raises(tokens.TokenError, match="not a shoal token"):
        tokens.verify(key, good + "." + "x" * 10)
    expired, _ = tokens.issue(key, username="ann", kind="login", lifetime=-1)
    with pytest.raises(tokens.TokenError, match="login token expired at") as info:
        tokens.verify(key, expired)
    assert info.value.kind == "expired" and info.value.expired_at is not None


def test_remembered_signature_checks_still_expire_and_bind_the_secret() -> None:
    """verify() remembers tokens whose signature it checked: the expiry is still checked on
    every call, and the memory is per secret (another server's key checks from scratch)."""
    key, other_key = b"a" * 32, b"b" * 32
    token, claims = tokens.issue(key, username="ann", kind="login", lifetime=1)
    assert tokens.verify(key, token) == claims
    assert tokens.verify(key, token) == claims  # remembered
    with pytest.raises(tokens.TokenError, match="signature"):
        tokens.verify(other_key, token)
    head, payload, sig = token.split(".")
    with pytest.raises(tokens.TokenError, match="signature"):
        tokens.verify(key, f"{head}.{payload}.{sig[:-4]}AAAA")
    while time.time() < claims.expires_at:
        time.sleep(min(0.05, max(0.0, claims.expires_at - time.time())))
    with pytest.raises(tokens.TokenError, match="login token expired at") as info:
        tokens.verify(key, token)
    assert info.value.kind == "expired" and info.value.expired_at == claims.expires_at


def test_a_used_token_expires_and_is_revoked_on_the_server(platform: Running) -> None:
    """A token the server has already checked (and remembers) is refused once it expires,
    and once it is revoked: the database still decides revocation on every request."""
    user = platform.user()
    status, body = platform.call(
        "POST", "/api/user/tokens", {"name": "brief", "expires_in": 1}, token=user.token
    )
    assert status == 201
    brief = body["token"]
    assert platform.call("GET", "/api/user/profile", token=brief)[0] == 200
    status, body = platform.call(
        "POST", "/api/user/tokens", {"name": "kept", "expires": "1d"}, token=user.token
    )
    kept = body["token"]
    assert platform.call("GET", "/api/user/profile", token=kept)[0] == 200
    assert platform.call("DELETE", "/api/user/tokens/kept", token=user.token)[0] == 200
    status, body = platform.call("GET", "/api/user/profile", token=kept)
    assert status == 401 and body["error"] == "token_revoked"
    expires = tokens.decode_unverified(brief)["exp"]  # type: ignore[index]
    while time.time() < expires:
        time.sleep(min(0.05, max(0.0, expires - time.time())))
    status, body = platform.call("GET", "/api/user/profile", token=brief)
    assert status == 401 and body["error"] == "token_expired"
