"""Accounts and tokens: register, log in (a login token), profile, log out, API tokens."""

from __future__ import annotations

import time

from aiohttp import web

from . import accounts, passwords, tokens
from .common import (
    caller,
    check_name,
    fail,
    get_bool,
    get_str,
    json_body,
    log,
    platform,
)

routes = web.RouteTableDef()


@routes.post("/api/user/register")
async def register(request: web.Request) -> web.Response:
    p = platform(request)
    if not p.config.allow_registration:
        fail(403, "registration_closed", "registration is closed on this server; ask its admin")
    body = await json_body(request)
    username = get_str(body, "username", limit=64)
    email = get_str(body, "email", limit=254)
    password = get_str(body, "password", limit=passwords.MAX_LENGTH)
    await accounts.register(p, username, email, password)
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
    user = await accounts.check_password(p, username, password, request.remote or "?")
    token, claims = await accounts.issue_login(p, user)
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


@routes.get("/api/user/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    assert who.user is not None
    now = time.time()
    return web.json_response(
        {"tokens": [accounts.token_info(r, now) for r in await p.db.api_tokens(who.user.id)]}
    )


@routes.post("/api/user/tokens")
async def create_token(request: web.Request) -> web.Response:
    """``{"name": "ci", "expires": "30d"}`` (or ``"expires_in": seconds``), and
    ``"can_create_tokens": true`` for a token that may create tokens itself (see
    :func:`.accounts.create_api_token` for who may)."""
    p = platform(request)
    who = caller(request)
    body = await json_body(request)
    name = check_name("token name", get_str(body, "name", limit=64))
    lifetime = accounts.lifetime_of(body)
    can_mint = bool(get_bool(body, "can_create_tokens", False))
    token, claims = await accounts.create_api_token(p, who, name, lifetime, can_mint=can_mint)
    return web.json_response(
        {"token": token, "name": name, "expires_at": tokens.isoformat(claims.expires_at)},
        status=201,
    )


@routes.delete("/api/user/tokens/{name}")
async def revoke_token(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    name = request.match_info["name"]
    await accounts.revoke_api_token(p, who, name)
    return web.json_response({"revoked": name})
