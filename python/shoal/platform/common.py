"""What every route needs: the app state, errors as JSON, who is calling, body parsing, names,
the failed-login limiter and log redaction."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from aiohttp import web

from .._secrets import scrub as _scrub
from ..auth.platform_names import NAME_RE
from . import tokens
from .config import ServerConfig
from .creds_vending import Vendor
from .db import Database, DatasetRow, Org, TokenRow, User
from .login_limits import LoginLimiter

log = logging.getLogger("shoal.platform")

T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])

NAME = NAME_RE
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
RESERVED = frozenset({"public", "api", "admin", "shoal", "hub", "me"})


@dataclass
class Platform:
    """The server's state, one per app (``request.app[STATE]``)."""

    config: ServerConfig
    db: Database
    vendor: Vendor
    secret: bytes = field(repr=False)
    limiter: LoginLimiter
    dummy_hash: str = field(repr=False)
    started_at: float = field(default_factory=time.time)


STATE = web.AppKey("shoal_platform", Platform)


def platform(request: web.Request) -> Platform:
    return request.app[STATE]


# ----------------------------------------------------------------------------------------------
# errors


class ApiError(Exception):
    """An error answer: ``{"error": kind, "description": message, ...extra}``.

    ``description`` is where the ``deeplake`` client looks for the message.
    """

    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.extra = extra

    def response(self) -> web.Response:
        headers = {}
        if "retry_after" in self.extra:
            headers["Retry-After"] = str(int(self.extra["retry_after"]) + 1)
        return web.json_response(
            {"error": self.kind, "description": self.message, **self.extra},
            status=self.status,
            headers=headers,
        )


def fail(status: int, kind: str, message: str, **extra: Any) -> NoReturn:
    raise ApiError(status, kind, message, **extra)


# ----------------------------------------------------------------------------------------------
# who is calling


@dataclass(frozen=True)
class Caller:
    """The signed-in user (``None``: anonymous) and their token's claims."""

    user: User | None
    claims: tokens.Claims | None

    @property
    def name(self) -> str:
        return self.user.username if self.user else "anonymous"


ANONYMOUS = Caller(None, None)
CALLER = web.RequestKey("shoal_caller", Caller)
AUTH_ERROR = web.RequestKey("shoal_auth_error", ApiError)
_SIGN_IN = "sign in with `shoal login` (or pass token=..., or set SHOAL_TOKEN)"


def caller(request: web.Request, *, required: bool = True) -> Caller:
    """Who sent ``request``. The token is checked completely on every request (by
    :func:`authenticate`, before the handler runs): signature, expiry, revocation, and that its
    user still exists. A bad token is an error even where anonymous access would do: it never
    silently becomes anonymous."""
    error = request.get(AUTH_ERROR)
    if error is not None:
        raise error
    cached: Caller = request.get(CALLER, ANONYMOUS)
    if required and cached.user is None:
        fail(401, "not_authenticated", f"this needs a signed-in user; {_SIGN_IN}")
    return cached


_SELF_CHECKED = "_shoal_checks_its_token"


def checks_its_token(handler: H) -> H:
    """Mark a handler that checks the request's token itself, with :func:`authenticated_run`,
    in the same batch of reads as its own lookups (for endpoints a client waits on, such as a
    ``hub://`` open's ``/creds``)."""
    setattr(handler, _SELF_CHECKED, True)
    return handler


async def authenticate(request: web.Request) -> None:
    """Check the request's token (a few indexed reads) for :func:`caller`; a bad
    token is kept as the error :func:`caller` raises, so endpoints that never ask who is
    calling (login, health) are not refused for it. Handlers marked
    :func:`checks_its_token` do it themselves."""
    if getattr(request.match_info.handler, _SELF_CHECKED, False):
        return
    try:
        request[CALLER] = await _authenticate(request)
    except ApiError as exc:
        request[AUTH_ERROR] = exc


def _bearer(request: web.Request) -> str | None:
    """The request's bearer token; ``None`` for none (or a public one: anonymous)."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        fail(401, "token_invalid", "the Authorization header must be 'Bearer <token>'")
    return None if token.startswith(tokens.PUBLIC_TOKEN_PREFIX) else token


async def _authenticate(request: web.Request) -> Caller:
    token = _bearer(request)
    return ANONYMOUS if token is None else await caller_for_token(platform(request), token)


async def authenticated_run(request: web.Request, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """For a handler marked :func:`checks_its_token`: the request's token checked exactly as
    :func:`authenticate` does, and ``fn(db, user_id, *args)`` run in the same batch
    (``user_id``: the token's user, ``None`` without a token). Both only read, a few indexed
    lookups: on SQLite they run on the event loop (``Database.batch(..., lookup=True)``),
    without a trip to the database's threads. A bad token raises its error (``fn``'s result is never
    used then); :func:`caller` then answers."""
    p = platform(request)
    try:
        token = _bearer(request)
        claims = None if token is None else _claims(p, token)
    except ApiError as exc:
        request[AUTH_ERROR] = exc
        raise
    if claims is None:
        request[CALLER] = ANONYMOUS
        return await p.db.batch(fn, None, *args, lookup=True)
    owned: tuple[tuple[TokenRow | None, TokenRow | None, User | None], T]
    owned = await p.db.batch(_owner_then, claims.jti, fn, *args, lookup=True)
    (row, parent, user), result = owned
    try:
        request[CALLER] = _checked_owner(claims, row, parent, user)
    except ApiError as exc:
        request[AUTH_ERROR] = exc
        raise
    return result


async def _owner_then(
    db: Database, jti: str, fn: Callable[..., Awaitable[T]], *args: Any
) -> tuple[tuple[TokenRow | None, TokenRow | None, User | None], T]:
    owner = await _token_owner(db, jti)
    user = owner[2]
    return owner, await fn(db, user.id if user is not None else None, *args)


async def _token_owner(
    db: Database, jti: str
) -> tuple[TokenRow | None, TokenRow | None, User | None]:
    """The token's row, its parent's (if it has one) and its user, in one batch."""
    row = await db.token(jti)
    if row is None:
        return None, None, None
    parent = await db.token(row.parent_jti) if row.parent_jti is not None else None
    return row, parent, await db.user_by_id(row.user_id)


def _claims(p: Platform, token: str) -> tokens.Claims:
    """The token's claims if its signature and expiry check out; 401 otherwise."""
    try:
        return tokens.verify(p.secret, token)
    except tokens.TokenError as exc:
        if exc.kind == "expired":
            assert exc.expired_at is not None
            fail(401, "token_expired", str(exc), expired_at=tokens.isoformat(exc.expired_at))
        fail(401, "token_invalid", str(exc))


async def caller_for_token(p: Platform, token: str) -> Caller:
    """The user a token stands for, checked completely (signature, expiry, revocation, its
    parent's revocation, the user still there); :class:`ApiError` (401) otherwise. The API's
    bearer tokens and the web app's session cookie both go through here."""
    claims = _claims(p, token)
    row, parent, user = await p.db.batch(_token_owner, claims.jti, lookup=True)
    return _checked_owner(claims, row, parent, user)


def _checked_owner(
    claims: tokens.Claims, row: TokenRow | None, parent: TokenRow | None, user: User | None
) -> Caller:
    """The caller, once the token's rows say it is still good; 401 otherwise."""
    if row is None:
        fail(
            401,
            "token_invalid",
            f"the token is not known to this server (was its database reset?); {_SIGN_IN}",
        )
    if row.revoked_at is not None:
        when = tokens.isoformat(row.revoked_at)
        if row.kind == "api":
            msg = (
                f"the API token {row.name!r} was revoked at {when}; create a new one with "
                "`shoal token create --name NAME --expires 30d`"
            )
        else:
            msg = f"this login token was revoked at {when} (`shoal logout`); sign in again with `shoal login`"
        fail(401, "token_revoked", msg, revoked_at=when)
    if row.parent_jti is not None and (parent is None or parent.revoked_at is not None):
        fail(
            401,
            "token_revoked",
            f"the API token {row.name!r} was created with a token that has since been "
            "revoked; create a new one with `shoal token create`",
        )
    if user is None or user.username.lower() != claims.username.lower():
        fail(401, "token_invalid", f"the token's user no longer exists; {_SIGN_IN}")
    return Caller(user, claims)


# ----------------------------------------------------------------------------------------------
# request bodies and names


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object in the body; 400 for anything else."""
    try:
        raw = await request.read()
    except web.HTTPException:
        raise
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        fail(400, "bad_request", "the request body is not valid JSON (NaN and Infinity are not)")
    except RecursionError:
        fail(400, "bad_request", "the request body is nested too deeply")
    if not isinstance(body, dict):
        fail(400, "bad_request", f"the request body must be a JSON object, not {_kind(body)}")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def get_str(body: dict[str, Any], key: str, *, required: bool = True, limit: int = 1024) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        fail(400, "bad_request", f"{key!r} must be a non-empty string")
    if len(value) > limit:
        fail(400, "bad_request", f"{key!r} is too long (at most {limit} characters)")
    return value


def get_bool(body: dict[str, Any], key: str, default: bool | None = None) -> bool | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, bool):
        fail(400, "bad_request", f"{key!r} must be true or false, not {_kind(value)}")
    return value


def check_name(what: str, value: str, *, reserved: bool = False) -> str:
    if not NAME.fullmatch(value):
        fail(
            400,
            "invalid_name",
            f"invalid {what} {value[:80]!r}: use 1-64 letters, digits, '-' or '_', starting with "
            "a letter or digit",
        )
    if reserved and value.lower() in RESERVED:
        fail(400, "invalid_name", f"the {what} {value!r} is reserved; pick another")
    return value


# ----------------------------------------------------------------------------------------------
# orgs and datasets


async def find_org(p: Platform, name: str) -> Org:
    check_name("organization name", name)
    return org_found(await p.db.org(name), name)


def org_found(org: Org | None, name: str) -> Org:
    """``org`` (looked up by ``name``), or the 404 saying there is none."""
    if org is None:
        fail(404, "org_not_found", f"there is no organization named {name!r}")
    return org


#: ``role=`` of :func:`require_member` when the caller's role is not known yet.
ASK = "\0ask the database"


async def require_member(
    p: Platform, who: Caller, org: Org, at_least: str = "read", *, role: str | None = ASK
) -> str:
    """The caller's role in ``org`` (``role``: already read from the database), which must
    be ``at_least``; 401/403 otherwise."""
    from .db import RANK

    if who.user is None:
        fail(
            401,
            "not_authenticated",
            f"organization {org.name!r} needs a signed-in user; {_SIGN_IN}",
        )
    if role == ASK:
        role = await p.db.role(org.id, who.user.id)
    if role is None:
        fail(
            403,
            "forbidden",
            f"user {who.user.username!r} is not a member of organization {org.name!r}; "
            "ask one of its admins to add you",
        )
    if RANK[role] < RANK[at_least]:
        fail(
            403,
            "forbidden",
            f"user {who.user.username!r} has the {role!r} role in {org.name!r}, and this needs "
            f"{at_least!r}; ask an admin of {org.name!r}",
        )
    return role


def dataset_info(ds: DatasetRow, role: str | None) -> dict[str, Any]:
    return {
        "org": ds.org,
        "name": ds.name,
        "tag": f"{ds.org}/{ds.name}",
        "public": ds.public,
        "path": ds.storage_url,
        "created_at": tokens.isoformat(ds.created_at),
        "updated_at": tokens.isoformat(ds.updated_at),
        "role": role,
    }


# ----------------------------------------------------------------------------------------------
# logs


def scrub(text: str) -> str:
    """Remove anything that looks like a token or a secret value from a log line."""
    return _scrub(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, then the record's
    ``fields`` (``log.info("...", extra={"fields": {...}})``). Secrets are scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
            out["traceback"] = self.formatException(record.exc_info)
        return scrub(json.dumps(out, default=str))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return scrub(text)
