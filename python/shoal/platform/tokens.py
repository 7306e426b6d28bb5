"""Signed tokens: compact JWTs with HS256, made and checked with the standard library.

The claims are ``id`` and ``sub`` (the username; the ``deeplake`` client reads ``id`` from an
unverified decode), ``jti`` (the token's id, the key of its database row, which is how it is
revoked), ``typ`` (``"login"`` or ``"api"``), ``name`` (an API token's name), ``iat`` and
``exp``. The server checks the signature, then expiry, then the database (revoked? the user
still there?) on every request; :func:`verify` does the first two.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

#: What the ``deeplake`` client sends when it has no token: anonymous.
PUBLIC_TOKEN_PREFIX = "PUBLIC_TOKEN_"
_HEADER = {"alg": "HS256", "typ": "JWT"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class TokenError(Exception):
    """A token that cannot be used. ``kind``: ``"malformed"``, ``"signature"`` or
    ``"expired"`` (then ``expired_at`` is the epoch time)."""

    def __init__(self, kind: str, message: str, expired_at: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.expired_at = expired_at


@dataclass(frozen=True, slots=True)
class Claims:
    username: str
    jti: str
    kind: str  # "login" | "api"
    name: str
    issued_at: float
    expires_at: float


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, signing_input: bytes) -> bytes:
    return hmac.new(secret, signing_input, hashlib.sha256).digest()


def issue(
    secret: bytes,
    *,
    username: str,
    kind: str,
    lifetime: float,
    name: str = "",
    now: float | None = None,
) -> tuple[str, Claims]:
    """A new signed token for ``username`` that expires ``lifetime`` seconds from ``now``."""
    now = time.time() if now is None else now
    claims = Claims(username, secrets.token_hex(16), kind, name, int(now), int(now + lifetime))
    payload = {
        "id": username,
        "sub": username,
        "jti": claims.jti,
        "typ": kind,
        "name": name,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
    }
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode()
    return f"{head}.{body}.{_b64(_sign(secret, signing_input))}", claims


def decode_unverified(token: str) -> dict[str, Any] | None:
    """The payload without checking anything (for showing expiry to a user), or ``None``."""
    try:
        _, body, _ = token.split(".")
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def verify(secret: bytes, token: str, *, now: float | None = None) -> Claims:
    """The claims of ``token`` if its signature is ours and it has not expired; else
    :class:`TokenError`. Revocation is the database's business."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 4096:
        raise TokenError(
            "malformed",
            "the token is malformed (not a shoal token); copy the whole token, or sign in "
            "again with `shoal login`",
        )
    head, body, sig = parts
    try:
        header = json.loads(_unb64(head))
        signature = _unb64(sig)
    except (ValueError, UnicodeDecodeError):
        raise TokenError("malformed", "the token is malformed (bad encoding)") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise TokenError("malformed", "the token is malformed (unsupported algorithm)")
    if not hmac.compare_digest(_sign(secret, f"{head}.{body}".encode()), signature):
        raise TokenError(
            "signature",
            "the token's signature is invalid: it was altered, or issued by another server; "
            "sign in again with `shoal login`",
        )
    try:
        payload = json.loads(_unb64(body))
        claims = Claims(
            username=str(payload["id"]),
            jti=str(payload["jti"]),
            kind=str(payload["typ"]),
            name=str(payload.get("name", "")),
            issued_at=float(payload["iat"]),
            expires_at=float(payload["exp"]),
        )
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise TokenError("malformed", "the token is malformed (bad claims)") from None
    now = time.time() if now is None else now
    if claims.expires_at <= now:
        fix = (
            "sign in again with `shoal login`"
            if claims.kind == "login"
            else "create a new one with `shoal token create --name NAME --expires 30d`"
        )
        raise TokenError(
            "expired",
            f"the {_describe(claims)} expired at {isoformat(claims.expires_at)}; {fix}",
            expired_at=claims.expires_at,
        )
    return claims


def _describe(claims: Claims) -> str:
    return f"API token {claims.name!r}" if claims.kind == "api" else "login token"


def isoformat(ts: float) -> str:
    """``2025-01-02T03:04:05Z``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> float:
    """Seconds in ``"30d"``, ``"12h"``, ``"90m"``, ``"3600"`` (seconds), ``"2w"``. Raises
    ``ValueError`` with the accepted forms."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(
            f"cannot read the duration {text!r}; use a number with a unit: 30d, 12h, 90m, 3600s, 2w"
        )
    seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"the duration {text!r} must be positive")
    return seconds
