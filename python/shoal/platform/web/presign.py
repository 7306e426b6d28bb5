"""Presigned S3 GET URLs (AWS Signature Version 4, query form) for the viewer: the browser
reads chunk objects straight from the bucket with them, so the platform never carries the
bytes. Signed with the same short-lived, read-only credentials ``/creds`` vends to a reader
of the dataset, valid for minutes; the secret itself never leaves the server."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ...storage._sigv4 import _signing_key, quote_path

#: The longest a presigned URL lives (S3 allows up to 7 days; the viewer needs minutes).
MAX_SECONDS = 900


@dataclass(frozen=True)
class S3Location:
    """Where a dataset's objects are and how to sign for them."""

    endpoint: str  # scheme://host[:port] the browser talks to
    bucket_path: str  # "/bucket" (path style) or "" (virtual-hosted)
    prefix: str  # "dir/ds/" (the dataset's objects) or ""
    region: str
    access_key: str
    secret_key: str
    token: str | None
    expires_at: float  # when the credentials themselves expire

    @property
    def origin(self) -> str:
        return self.endpoint


def location(url: str, creds: dict[str, object], expires_at: float) -> S3Location:
    """The signing location of ``s3://bucket/prefix`` with vended ``creds``."""
    bucket, _, prefix = url.split("://", 1)[1].partition("/")
    prefix = prefix.strip("/")
    region = str(creds.get("aws_region") or "us-east-1")
    endpoint = str(creds.get("endpoint_url") or f"https://s3.{region}.amazonaws.com")
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if (host.endswith(".amazonaws.com") or host == "amazonaws.com") and "." not in bucket:
        base, path = f"{parts.scheme}://{bucket}.{parts.netloc}", ""
    else:
        base, path = f"{parts.scheme}://{parts.netloc}", f"{parts.path.rstrip('/')}/{bucket}"
    return S3Location(
        base,
        path,
        prefix + "/" if prefix else "",
        region,
        str(creds.get("aws_access_key_id", "")),
        str(creds.get("aws_secret_access_key", "")),
        str(creds["aws_session_token"]) if creds.get("aws_session_token") else None,
        expires_at,
    )


def presign(
    loc: S3Location,
    key: str,
    *,
    seconds: int = 300,
    query: dict[str, str] | None = None,
    now: dt.datetime | None = None,
) -> str:
    """A GET URL for ``key`` (relative to the dataset), valid ``seconds`` (no longer than the
    credentials). With ``query`` (a listing's ``list-type``, ``prefix``...) the URL is a GET
    of the bucket itself and ``key`` is ignored."""
    now = now or dt.datetime.now(dt.UTC)
    left = int(loc.expires_at - now.timestamp())
    seconds = max(1, min(seconds, MAX_SECONDS, left))
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{loc.region}/s3/aws4_request"
    params = dict(query or {})
    params.update(
        {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{loc.access_key}/{scope}",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(seconds),
            "X-Amz-SignedHeaders": "host",
        }
    )
    if loc.token:
        params["X-Amz-Security-Token"] = loc.token
    # A listing is a GET of the bucket itself; an object, of its full key.
    path = quote_path(loc.bucket_path + "/" + ("" if query is not None else loc.prefix + key))
    host = urlsplit(loc.endpoint).netloc
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    canonical = "\n".join(
        ["GET", path, canonical_query, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signing_key = _signing_key(loc.secret_key, amz_date[:8], loc.region, "s3")
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{loc.endpoint}{path}?{canonical_query}&X-Amz-Signature={signature}"
