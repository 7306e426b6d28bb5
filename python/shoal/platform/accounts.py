"""Accounts and tokens as the JSON API and the web app both use them: register, check a
password (with the failed-login limiter), issue login tokens, create and revoke API tokens.

Errors are :class:`.common.ApiError` with the status and message the API answers with; the
web app shows the same messages on its pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from typing import Any

from . import passwords, tokens
from .common import EMAIL, Caller, Platform, check_name, fail, get_str, log
from .db import Conflict, TokenRow, User


async def _attempted(p: Platform, username: str) -> dict[str, str]:
    """How a login attempt's username is logged: as it is when it names an account, else
    (a typo, or a password typed into the wrong field) only a short hash of it."""
    if await p.db.user(username) is not None:
        return {"user": username}
    return {"unknown_user_sha256": hashlib.sha256(username.encode()).hexdigest()[:12]}


async def register(p: Platform, username: str, email: str, password: str) -> User:
    """A new account (and its personal org); 400/403/409 with what to change."""
    if not p.config.allow_registration:
        fail(403, "registration_closed", "registration is closed on this server; ask its admin")
    check_name("username", username, reserved=True)
    if not EMAIL.fullmatch(email):
        fail(400, "invalid_email", f"{email[:80]!r} is not an email address")
    why = passwords.check_strength(password)
    if why:
        fail(400, "weak_password", why)
    if await p.db.user(username) is not None:  # fail fast, before the expensive hash
        fail(409, "conflict", f"the username {username!r} is taken; pick another")
    hashed = await asyncio.to_thread(passwords.hash_password, password, n=p.config.scrypt_n)
    try:
        user = await p.db.create_user(username, email, hashed)
    except Conflict as exc:
        fail(409, "conflict", str(exc))
    log.info("user registered", extra={"fields": {"user": username}})
    return user


async def check_password(p: Platform, username: str, password: str, ip: str) -> User:
    """The user if the password is right; 401 (wrong) or 429 (too many failures) otherwise.
    The same work is done for unknown names (a dummy hash), so timing does not tell them."""
    # Checked and counted in one step, before the password hash is awaited.
    wait = await p.limiter.begin(username, ip)
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
    await p.limiter.succeeded(username, ip)
    if passwords.needs_rehash(user.password_hash, n=p.config.scrypt_n):
        hashed = await asyncio.to_thread(passwords.hash_password, password, n=p.config.scrypt_n)
        await p.db.set_password_hash(user.id, hashed)
    return user


async def issue_login(p: Platform, user: User) -> tuple[str, tokens.Claims]:
    """A login token for ``user`` (recorded, so signing out revokes it)."""
    lifetime = p.config.login_token_hours * 3600
    token, claims = tokens.issue(p.secret, username=user.username, kind="login", lifetime=lifetime)
    await p.db.add_token(claims.jti, user.id, "login", "", claims.issued_at, claims.expires_at)
    log.info("login", extra={"fields": {"user": user.username}})
    return token, claims


def lifetime_of(body: dict[str, Any]) -> float:
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


async def create_api_token(
    p: Platform, who: Caller, name: str, lifetime: float, *, can_mint: bool = False
) -> tuple[str, tokens.Claims]:
    """A new API token for the caller.

    A login session creates tokens; an API token only if it was created with
    ``can_create_tokens`` (by a login session), and what it creates expires with it at the
    latest, dies when it is revoked, and may not create tokens in turn."""
    assert who.user is not None and who.claims is not None
    check_name("token name", name)
    most = p.config.max_token_days * 86400
    if lifetime > most:
        fail(400, "bad_request", f"an API token may live at most {p.config.max_token_days} days")
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
    return token, claims


async def revoke_api_token(p: Platform, who: Caller, name: str) -> None:
    assert who.user is not None
    check_name("token name", name)
    if not await p.db.revoke_token_named(who.user.id, name):
        fail(
            404,
            "not_found",
            f"you have no active API token named {name!r} (see `shoal token list`)",
        )
    log.info("api token revoked", extra={"fields": {"user": who.name, "token_name": name}})


def token_info(row: TokenRow, now: float) -> dict[str, Any]:
    status = "revoked" if row.revoked_at else ("expired" if row.expires_at <= now else "active")
    return {
        "name": row.name,
        "status": status,
        "created_at": tokens.isoformat(row.created_at),
        "expires_at": tokens.isoformat(row.expires_at),
        "revoked_at": tokens.isoformat(row.revoked_at) if row.revoked_at else None,
    }
