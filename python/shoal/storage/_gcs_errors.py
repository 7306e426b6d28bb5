"""What GCS's failures mean: which are worth another try, and the shoal error for each.

Decisions are taken on HTTP statuses and exception classes, never on the wording of a
message. :func:`classify` is the GCS provider's retry predicate (408, 429 and 5xx, dropped or
reset connections and timeouts; ``Retry-After`` is honoured); :func:`map_status` and
:func:`unreachable` the one translation into :mod:`shoal.errors`, naming the path and the
credential source, never a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp

from .._retry import NO_RETRY, Verdict
from .._secrets import shorten
from ..auth import gcs as gcs_auth
from ..errors import (
    BucketNotFoundError,
    CredentialsError,
    NotFoundError,
    ShoalError,
    StorageConnectionError,
    StorageError,
)

__all__ = ["RETRY_STATUS", "GcsWhere", "classify", "map_status", "unreachable"]

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _retry_after(exc: aiohttp.ClientResponseError) -> float | None:
    value = exc.headers.get("Retry-After", "") if exc.headers is not None else ""
    return float(value) if value.isdigit() else None


def classify(exc: BaseException) -> Verdict:
    """The retry verdict for one failed GCS attempt."""
    if isinstance(exc, aiohttp.ClientResponseError):
        if exc.status not in RETRY_STATUS:
            return NO_RETRY
        return Verdict(True, retry_after=_retry_after(exc))
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError) and not isinstance(
        exc, ShoalError
    ):
        return Verdict(True)
    return NO_RETRY


def gcs_message(exc: aiohttp.ClientResponseError) -> str:
    """Google's error message out of gcloud-aio's ``"<reason>: <body>"``."""
    text = exc.message or ""
    reason, _, body = text.partition(": ")
    try:
        err = json.loads(body).get("error")
        if isinstance(err, dict) and err.get("message"):
            return shorten(str(err["message"]), 200)
    except (ValueError, AttributeError):
        pass
    return shorten(body or reason or "", 200)


@dataclass(frozen=True, slots=True)
class GcsWhere:
    """What an error message says about where it happened (no secrets)."""

    url: str
    bucket: str
    endpoint: str
    auth: gcs_auth.GcsAuth

    def what(self, key: str | None) -> str:
        return f"{key!r} in {self.url}" if key else self.url


def map_status(
    exc: aiohttp.ClientResponseError, where: GcsWhere, op: str, key: str | None, attempts: int
) -> ShoalError:
    """The shoal error for an error answer; ``http_status`` is kept on it."""
    err = _mapped(exc, where, op, key, attempts)
    err.http_status = exc.status  # type: ignore[attr-defined]
    return err


def unreachable(
    exc: BaseException, where: GcsWhere, op: str, key: str | None, attempts: int, timeout: float
) -> StorageConnectionError:
    why = (
        f"no answer within {timeout:g} s"
        if isinstance(exc, TimeoutError)
        else gcs_auth._reason(exc)
    )
    return StorageConnectionError(
        f"cannot reach GCS at {where.endpoint} to {op} {where.what(key)}: {why} "
        f"(after {attempts} attempt{'s' if attempts > 1 else ''}); check the network, "
        "or the endpoint (creds['endpoint_url'], SHOAL_GCS_ENDPOINT_URL, "
        "STORAGE_EMULATOR_HOST)"
    )


def _mapped(
    exc: aiohttp.ClientResponseError, where: GcsWhere, op: str, key: str | None, attempts: int
) -> ShoalError:
    status, msg, what = exc.status, gcs_message(exc), where.what(key)
    detail = f"HTTP {status}{': ' + msg if msg else ''}"
    if status == 404:
        if op in ("list", "write"):
            return BucketNotFoundError(
                f"bucket {where.bucket!r} does not exist at {where.endpoint} (for {where.url}); "
                f"create it (`gcloud storage buckets create gs://{where.bucket}`) or check "
                "the name"
            )
        return NotFoundError(f"{key!r} not found in {where.url}")
    if status == 401:
        advice = (
            "the bucket is not public: pass creds= (a key file, 'google_default', 'browser', ...)"
            if where.auth.anonymous
            else "the credentials are not (or no longer) valid: check them or get new ones"
        )
        return CredentialsError(
            f"GCS refused to {op} {what} ({detail}) with {where.auth.description}; {advice}"
        )
    if status == 403:
        reading = op in ("read", "list")
        role = "roles/storage.objectViewer" if reading else "roles/storage.objectUser"
        return CredentialsError(
            f"{where.auth.description} may not {op} {what} ({detail}); grant it "
            f"{role} on bucket {where.bucket!r}, or use other credentials"
        )
    if status in RETRY_STATUS:
        return StorageError(
            f"could not {op} {what}: {detail} after {attempts} attempts; GCS is throttling "
            "or unavailable, try again later"
        )
    return StorageError(f"could not {op} {what}: {detail}")
