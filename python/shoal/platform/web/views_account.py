"""Pages for accounts: register, sign in, sign out, and API tokens (created with an expiry,
listed, revoked; a new token is shown once)."""

from __future__ import annotations

import time

from aiohttp import web

from .. import accounts, passwords
from ..common import ApiError, platform
from . import session
from .forms import form_of, page, secret, see_other, text

routes = web.RouteTableDef()

#: The expiries offered on the token form (the API takes any duration).
EXPIRIES = [
    ("1d", "1 day"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("365d", "1 year"),
]


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    who = session.current(request)
    return see_other("/orgs" if who.user is not None else "/signin")


@routes.get("/signin")
async def signin_page(request: web.Request) -> web.Response:
    return page(
        request,
        "signin.html",
        {"next": session.safe_next(request.query.get("next", "/")), "username": "", "error": None},
    )


@routes.post("/signin")
async def signin(request: web.Request) -> web.StreamResponse:
    p = platform(request)
    form = await form_of(request)
    nxt = session.safe_next(str(form.get("next", "/")))
    username = str(form.get("username", ""))[:64].strip()
    try:
        username = text(form, "username", limit=64)
        password = secret(form, "password", limit=passwords.MAX_LENGTH)
        user = await accounts.check_password(p, username, password, request.remote or "?")
        token, claims = await accounts.issue_login(p, user)
    except ApiError as exc:
        ctx = {"next": nxt, "username": username, "error": exc.message}
        return page(request, "signin.html", ctx, status=exc.status)
    response = see_other(nxt)
    session.start(response, request, token, claims.expires_at - time.time())
    return response


@routes.get("/register")
async def register_page(request: web.Request) -> web.Response:
    p = platform(request)
    ctx = {"username": "", "email": "", "error": None, "open": p.config.allow_registration}
    return page(request, "register.html", ctx)


@routes.post("/register")
async def register(request: web.Request) -> web.StreamResponse:
    p = platform(request)
    form = await form_of(request)
    username = str(form.get("username", ""))[:64].strip()
    email = str(form.get("email", ""))[:254].strip()
    try:
        username = text(form, "username", limit=64)
        email = text(form, "email", limit=254)
        password = secret(form, "password", limit=passwords.MAX_LENGTH)
        user = await accounts.register(p, username, email, password)
        token, claims = await accounts.issue_login(p, user)
    except ApiError as exc:
        ctx = {"username": username, "email": email, "error": exc.message, "open": True}
        return page(request, "register.html", ctx, status=exc.status)
    response = see_other("/orgs")
    session.start(response, request, token, claims.expires_at - time.time())
    return response


@routes.post("/signout")
async def signout(request: web.Request) -> web.StreamResponse:
    who = session.current(request)
    if who.claims is not None:
        await platform(request).db.revoke_jti(who.claims.jti)
    response = see_other("/signin")
    session.end(response)
    return response


async def _tokens_page(
    request: web.Request,
    *,
    new: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    p = platform(request)
    who = session.require_user(request)
    assert who.user is not None
    now = time.time()
    rows = [accounts.token_info(r, now) for r in await p.db.api_tokens(who.user.id)]
    rows.sort(key=lambda r: (r["status"] != "active", r["created_at"]), reverse=False)
    ctx = {"tokens": rows, "new": new, "error": error, "expiries": EXPIRIES}
    return page(request, "tokens.html", ctx, status=status)


@routes.get("/tokens")
async def tokens_page(request: web.Request) -> web.Response:
    return await _tokens_page(request)


@routes.post("/tokens")
async def create_token(request: web.Request) -> web.Response:
    p = platform(request)
    who = session.require_user(request)
    form = await form_of(request)
    try:
        name = text(form, "name", limit=64)
        lifetime = accounts.lifetime_of({"expires": text(form, "expires", limit=32)})
        token, claims = await accounts.create_api_token(p, who, name, lifetime)
    except ApiError as exc:
        return await _tokens_page(request, error=exc.message, status=exc.status)
    from ..tokens import isoformat

    new = {"name": name, "token": token, "expires_at": isoformat(claims.expires_at)}
    return await _tokens_page(request, new=new, status=201)


@routes.post("/tokens/{name}/revoke")
async def revoke_token(request: web.Request) -> web.Response:
    p = platform(request)
    who = session.require_user(request)
    try:
        await accounts.revoke_api_token(p, who, request.match_info["name"])
    except ApiError as exc:
        return await _tokens_page(request, error=exc.message, status=exc.status)
    return see_other("/tokens")
