"""Password hashing with scrypt (memory-hard; ``hashlib.scrypt``, no extra dependency).

A hash is stored as ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (base64url), so the cost can be raised
later without invalidating existing hashes: :func:`needs_rehash` says when to re-hash on the
next successful login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

DEFAULT_N = 1 << 14
R = 8
P = 1
KEY_BYTES = 32
#: Passwords shorter than this are refused at registration.
MIN_LENGTH = 8
#: Longer passwords are refused before hashing (scrypt over megabytes costs time).
MAX_LENGTH = 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=256 * n * r + (1 << 20)
    )


def hash_password(password: str, *, n: int = DEFAULT_N) -> str:
    """A salted scrypt hash of ``password``. Blocks for tens of milliseconds: call it in a
    worker thread from async code."""
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, n, R, P)
    return f"scrypt${n}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(key)
        got = _derive(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def needs_rehash(stored: str, *, n: int = DEFAULT_N) -> bool:
    parts = stored.split("$")
    return len(parts) != 6 or parts[0] != "scrypt" or parts[1] != str(n)


def check_strength(password: str) -> str | None:
    """Why ``password`` cannot be used, or ``None``."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    return None


def dummy_hash(n: int = DEFAULT_N) -> str:
    """A hash of a random password, verified against when the user does not exist, so a login
    for an unknown user takes as long as one with a wrong password."""
    return hash_password(secrets.token_urlsafe(16), n=n)
