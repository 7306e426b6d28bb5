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
