"""Accounts and tokens: register, log in (a login token), profile, log out, API tokens."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from typing import Any

from aiohttp import web

from . import passwords, tokens
from .common import (
    EMAIL,
    Platform,
    caller,
    check_name,
    fail,
    get_bool,
    get_str,
    json_body,
    log,
    platform,
)
from .db import Conflict

routes = web.RouteTableDef()


def _ip(request: web.Request) -> str:
    return request.remote or "?"


async def _attempted(p: Platform, username: str) -> dict[str, str]:
    """How a login attempt's username is logged: as it is when it names an account, else
    (a typo, or a password typed into the wrong field) only a short hash of it."""
    if await p.db.user(username) is not None:
        return {"user": username}
    return {"unknown_user_sha256": hashlib.sha256(username.encode()).hexdigest()[:12]}


@routes.post("/api/user/register")
async def register(request: web.Request) -> web.Response:
    p = platform(request)
    if not p.config.allow_registration:
        fail(403, "registration_closed", "registration is closed on this server; ask its admin")
    body = await json_body(request)
    username = check_name("username", get_str(body, "username", limit=64), reserved=True)
    email = get_str(body, "email", limit=254)
    if not EMAIL.fullmatch(email):
        fail(400, "invalid_email", f"{email[:80]!r} is not an email address")
    password = get_str(body, "password", limit=passwords.MAX_LENGTH)
    why = passwords.check_strength(password)
    if why:
        fail(400, "weak_password", why)
    if await p.db.user(username) is not None:  # fail fast, before the expensive hash
        fail(409, "conflict", f"the username {username!r} is taken; pick another")
    hashed = await asyncio.to_thread(passwords.hash_password, password, n=p.config.scrypt_n)
    try:
        await p.db.create_user(username, email, hashed)
    except Conflict as exc:
        fail(409, "conflict", str(exc))
    log.info("user registered", extra={"fields": {"user": username}})
    return web.json_response(
        {"username": username, "email": email, "organizations": [username]}, status=201
    )


@routes.post("/api/user/token")
async def login(request: web.Request) -> web.Response:
    """Password in, login token out (what ``activeloop login`` used to call)."""
    p = platform(request)
    body = await json_body(request)
    username = get_str(body, "username", limit=64)
    password = get_str(body, "password", limit=passwords.MAX_LENGTH)
    # Checked and counted in one step, before the password hash is awaited.
    wait = await p.db.run(p.limiter.begin, username, _ip(request))
    if wait > 0:
        log.warning("login rate limited", extra={"fields": await _attempted(p, username)})
        fail(
            429,
            "rate_limited",
            f"too many failed logins for {username[:64]!r}; try again in {int(wait) + 1} s",
            retry_after=round(wait, 1),
        )
    user = await p.db.user(username)
    stored = user.password_hash if user else p.dummy_hash
    ok = await asyncio.to_thread(passwords.verify_password, password, stored)
    if user is None or not ok:
        log.info("login failed", extra={"fields": await _attempted(p, username)})
        fail(401, "login_failed", "wrong username or password")
    await p.db.run(p.limiter.succeeded, username, _ip(request))
    if passwords.needs_rehash(user.password_hash, n=p.config.scrypt_n):
        hashed = await asyncio.to_thread(passwords.hash_password, password, n=p.config.scrypt_n)
        await p.db.set_password_hash(user.id, hashed)
    lifetime = p.config.login_token_hours * 3600
    token, claims = tokens.issue(p.secret, username=user.username, kind="login", lifetime=lifetime)
    await p.db.add_token(claims.jti, user.id, "login", "", claims.issued_at, claims.expires_at)
    log.info("login", extra={"fields": {"user": user.username}})
    return web.json_response(
        {
            "token": token,
            "username": user.username,
            "expires_at": tokens.isoformat(claims.expires_at),
            "expires_at_epoch": claims.expires_at,
        }
    )


@routes.get("/api/user/profile")
async def profile(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    assert who.user is not None and who.claims is not None
    orgs = [org.name for org, _ in await p.db.orgs_of(who.user.id)]
    return web.json_response(
        {
            "_id": who.user.username,
            "name": who.user.username,
            "username": who.user.username,
            "email": who.user.email,
            "organizations": orgs,
            "token": {
                "type": who.claims.kind,
                "name": who.claims.name,
                "expires_at": tokens.isoformat(who.claims.expires_at),
            },
        }
    )


@routes.post("/api/user/logout")
async def logout(request: web.Request) -> web.Response:
    """Revoke the token the request carries."""
    p = platform(request)
    who = caller(request)
    assert who.claims is not None
    await p.db.revoke_jti(who.claims.jti)
    log.info("logout", extra={"fields": {"user": who.name}})
    return web.json_response({"revoked": True})


def _token_info(row: Any, now: float) -> dict[str, Any]:
    status = "revoked" if row.revoked_at else ("expired" if row.expires_at <= now else "active")
    return {
        "name": row.name,
        "status": status,
        "created_at": tokens.isoformat(row.created_at),
        "expires_at": tokens.isoformat(row.expires_at),
        "revoked_at": tokens.isoformat(row.revoked_at) if row.revoked_at else None,
    }


@routes.get("/api/user/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    assert who.user is not None
    now = time.time()
    return web.json_response(
        {"tokens": [_token_info(r, now) for r in await p.db.api_tokens(who.user.id)]}
    )


@routes.post("/api/user/tokens")
async def create_token(request: web.Request) -> web.Response:
    """``{"name": "ci", "expires": "30d"}`` (or ``"expires_in": seconds``), and
    ``"can_create_tokens": true`` for a token that may create tokens itself.

    A login session creates tokens; an API token only if it was created with
    ``can_create_tokens`` (by a login session), and what it creates expires with it at the
    latest, dies when it is revoked, and may not create tokens in turn."""
    p = platform(request)
    who = caller(request)
    assert who.user is not None and who.claims is not None
    body = await json_body(request)
    name = check_name("token name", get_str(body, "name", limit=64))
    lifetime = _lifetime(body)
    most = p.config.max_token_days * 86400
    if lifetime > most:
        fail(400, "bad_request", f"an API token may live at most {p.config.max_token_days} days")
    can_mint = bool(get_bool(body, "can_create_tokens", False))
    parent = None
    if who.claims.kind != "login":
        parent = await p.db.token(who.claims.jti)
        if parent is None or not parent.can_mint or can_mint:
            fail(
                403,
                "forbidden",
                "this API token may not create tokens"
                + (" that create tokens" if parent is not None and parent.can_mint else "")
                + "; sign in with `shoal login` and create it with that login session",
            )
        lifetime = min(lifetime, parent.expires_at - time.time())
        if lifetime <= 0:
            fail(401, "token_expired", "the token creating this one has expired")
    token, claims = tokens.issue(
        p.secret, username=who.user.username, kind="api", lifetime=lifetime, name=name
    )
    try:
        await p.db.add_token(
            claims.jti,
            who.user.id,
            "api",
            name,
            claims.issued_at,
            claims.expires_at,
            parent_jti=parent.jti if parent is not None else None,
            can_mint=can_mint,
        )
    except Conflict as exc:
        fail(409, "conflict", str(exc))
    log.info("api token created", extra={"fields": {"user": who.name, "token_name": name}})
    return web.json_response(
        {"token": token, "name": name, "expires_at": tokens.isoformat(claims.expires_at)},
        status=201,
    )


def _lifetime(body: dict[str, Any]) -> float:
    """Seconds from ``expires_in`` (a finite positive number) or ``expires`` (``"30d"``)."""
    if "expires_in" in body:
        value = body["expires_in"]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            fail(400, "bad_request", "'expires_in' must be a positive number of seconds")
        return float(value)
    try:
        return tokens.parse_duration(
            get_str(body, "expires", limit=32) if "expires" in body else "30d"
        )
    except ValueError as exc:
        fail(400, "bad_request", str(exc))


@routes.delete("/api/user/tokens/{name}")
async def revoke_token(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    assert who.user is not None
    name = request.match_info["name"]
    check_name("token name", name)
    if not await p.db.revoke_token_named(who.user.id, name):
        fail(
            404,
            "not_found",
            f"you have no active API token named {name!r} (see `shoal token list`)",
        )
    log.info("api token revoked", extra={"fields": {"user": who.name, "token_name": name}})
    return web.json_response({"revoked": name})
