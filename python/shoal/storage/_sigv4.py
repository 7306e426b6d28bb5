"""AWS Signature Version 4 for S3 requests, with the standard library only.

The hot read path (GETs of chunk objects and their byte ranges) signs its own requests and
sends them on a pooled aiohttp session: botocore's request machinery costs about a
millisecond of CPU per request and its import and service model most of a fresh process's
first open. Signing is a few HMACs; the signing key is derived once per day, region and
secret. Payloads are not hashed (``UNSIGNED-PAYLOAD``), as S3 allows over any transport.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

UNSIGNED = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never the secret, nor the whole key id
        return f"Keys(access_key={self.access_key[:4]}…)"


def quote_path(path: str) -> str:
    """A key as S3 wants it in a path and in the canonical request (not double-encoded)."""
    return quote(path, safe="/~")


@lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sign(
    method: str,
    host: str,
    path: str,
    query: dict[str, str],
    keys: Keys,
    region: str,
    now: dt.datetime | None = None,
    service: str = "s3",
) -> dict[str, str]:
    """The headers that authenticate a request to ``host`` + ``path`` (already quoted) with
    the given query parameters; add them to the request as they are."""
    now = now or dt.datetime.now(dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    headers = {"host": host, "x-amz-content-sha256": UNSIGNED, "x-amz-date": amz_date}
    if keys.token:
        headers["x-amz-security-token"] = keys.token
    names = sorted(headers)
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical = "\n".join(
        [
            method,
            path,
            canonical_query,
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            UNSIGNED,
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _signing_key(keys.secret_key, date, region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in headers.items() if k != "host"}
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={keys.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


class GetSigner:
    """Signs GETs of one host's objects with one set of keys: what is constant per host,
    keys and second (the scope, the signed-header names, the date) is computed once, so a
    request costs one SHA-256 and one HMAC."""

    def __init__(self, keys: Keys, host: str, region: str, service: str = "s3") -> None:
        self.keys = keys
        self._host = host
        self._region = region
        self._service = service
        names = ["host", "x-amz-content-sha256", "x-amz-date"]
        if keys.token:
            names.append("x-amz-security-token")
        self._signed = ";".join(names)
        self._token_line = f"x-amz-security-token:{keys.token.strip()}\n" if keys.token else ""
        self._token_header = f"x-amz-security-token: {keys.token}\r\n" if keys.token else ""
        self._second = -1
        self._amz_date = ""
        self._scope = ""
        self._key = b""
        self._credential = ""

    def _tick(self, now: float) -> None:
        second = int(now)
        if second == self._second:
            return
        self._second = second
        stamp = dt.datetime.fromtimestamp(second, dt.UTC)
        self._amz_date = stamp.strftime("%Y%m%dT%H%M%SZ")
        date = self._amz_date[:8]
        self._scope = f"{date}/{self._region}/{self._service}/aws4_request"
        self._key = _signing_key(self.keys.secret_key, date, self._region, self._service)
        self._credential = f"AWS4-HMAC-SHA256 Credential={self.keys.access_key}/{self._scope}, "

    def headers(self, path: str, now: float | None = None) -> str:
        """The authentication header lines (each ending in CRLF) of a GET of ``path``
        (already quoted, no query)."""
        self._tick(time.time() if now is None else now)
        amz_date = self._amz_date
        canonical = (
            f"GET\n{path}\n\nhost:{self._host}\nx-amz-content-sha256:{UNSIGNED}\n"
            f"x-amz-date:{amz_date}\n{self._token_line}\n{self._signed}\n{UNSIGNED}"
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{self._scope}\n{digest}"
        signature = hmac.digest(self._key, to_sign.encode(), "sha256").hex()
        return (
            f"x-amz-content-sha256: {UNSIGNED}\r\nx-amz-date: {amz_date}\r\n"
            f"{self._token_header}Authorization: {self._credential}"
            f"SignedHeaders={self._signed}, Signature={signature}\r\n"
        )
