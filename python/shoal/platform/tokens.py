"""Signed tokens: compact HS256 JWTs, made and checked with PyJWT.

The claims are ``id`` and ``sub`` (the username; the ``deeplake`` client reads ``id`` from an
unverified decode), ``jti`` (the token's id, the key of its database row, which is how it is
revoked), ``typ`` (``"login"`` or ``"api"``), ``name`` (an API token's name), ``iat`` and
``exp``. The server checks the signature, then expiry, then the database (revoked? the user
still there?) on every request; :func:`verify` does the first two.

Checking a signature with PyJWT costs more than the rest of a ``/creds`` answer's own work, and
a client sends the same token again and again, so :func:`verify` remembers the claims of tokens
whose signature it checked, by (secret, token): the same bytes under the same secret always
check out the same, so only the expiry is checked again (revocation stays the database's).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

#: What the ``deeplake`` client sends when it has no token: anonymous.
PUBLIC_TOKEN_PREFIX = "PUBLIC_TOKEN_"
#: The only algorithm accepted: pinned, so a token cannot pick its own (``none``, or RS256
#: with our secret taken for a public key).
_ALGORITHM = "HS256"
_REQUIRED = ["id", "jti", "typ", "iat", "exp"]
#: No grace after ``exp``: a token is expired from that second on.
_LEEWAY = 0
_MAX_LENGTH = 4096
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


#: Claims of tokens whose signature checked out, by (secret, token); emptied when full.
_verified: dict[tuple[bytes, str], Claims] = {}
_MAX_VERIFIED = 4096


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
    return jwt.encode(payload, secret, algorithm=_ALGORITHM), claims


def decode_unverified(token: str) -> dict[str, Any] | None:
    """The payload without checking anything (for showing expiry to a user), or ``None``."""
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return payload if isinstance(payload, dict) else None


def verify(secret: bytes, token: str) -> Claims:
    """The claims of ``token`` if its signature is ours and it has not expired; else
    :class:`TokenError`. Revocation is the database's business."""
    known = _verified.get((secret, token))
    if known is not None:
        # PyJWT's rule (no leeway): expired from the ``exp`` second on.
        if int(known.expires_at) <= time.time():
            raise _expired(known)
        return known
    claims = _verify(secret, token)
    if len(_verified) >= _MAX_VERIFIED:
        _verified.clear()
    _verified[(secret, token)] = claims
    return claims


def forget_verified() -> None:
    """Forget the remembered signature checks (tests)."""
    _verified.clear()


def _verify(secret: bytes, token: str) -> Claims:
    if token.count(".") != 2 or len(token) > _MAX_LENGTH:
        raise TokenError(
            "malformed",
            "the token is malformed (not a shoal token); copy the whole token, or sign in "
            "again with `shoal login`",
        )
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            options={"require": _REQUIRED},
            leeway=_LEEWAY,
        )
    except jwt.InvalidAlgorithmError:
        raise TokenError("malformed", "the token is malformed (unsupported algorithm)") from None
    except jwt.InvalidSignatureError:
        raise TokenError(
            "signature",
            "the token's signature is invalid: it was altered, or issued by another server; "
            "sign in again with `shoal login`",
        ) from None
    except jwt.ExpiredSignatureError:
        # The signature was checked before the expiry, so these claims are ours.
        raise _expired(_claims(jwt.decode(token, options={"verify_signature": False}))) from None
    except jwt.DecodeError:
        raise TokenError("malformed", "the token is malformed (bad encoding)") from None
    except jwt.InvalidTokenError:  # a required claim missing, or iat/exp not numbers
        raise TokenError("malformed", "the token is malformed (bad claims)") from None
    except (RecursionError, ValueError, TypeError):  # a header or payload no JWT library expects
        raise TokenError("malformed", "the token is malformed (bad encoding)") from None
    return _claims(payload)


def _claims(payload: dict[str, Any]) -> Claims:
    try:
        return Claims(
            username=str(payload["id"]),
            jti=str(payload["jti"]),
            kind=str(payload["typ"]),
            name=str(payload.get("name", "")),
            issued_at=float(payload["iat"]),
            expires_at=float(payload["exp"]),
        )
    except (ValueError, KeyError, TypeError):
        raise TokenError("malformed", "the token is malformed (bad claims)") from None


def _expired(claims: Claims) -> TokenError:
    fix = (
        "sign in again with `shoal login`"
        if claims.kind == "login"
        else "create a new one with `shoal token create --name NAME --expires 30d`"
    )
    return TokenError(
        "expired",
        f"the {_describe(claims)} expired at {isoformat(claims.expires_at)}; {fix}",
        expired_at=claims.expires_at,
    )


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
