"""What S3's failures mean: which are worth another try, and the shoal error for each.

Decisions are taken on error *codes* (botocore's ``ClientError.response["Error"]["Code"]``),
HTTP statuses and exception classes, never on the wording of a message. :func:`classify` is
the retry predicate of the S3 provider; :func:`map_error` the one translation of third-party
exceptions into :mod:`shoal.errors`, with a message naming the path, the credential source
(never a secret) and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from .._retry import NO_RETRY, Verdict
from .._secrets import scrub
from ..auth.aws_spec import StaleCredentialsError
from ..errors import (
    BucketNotFoundError,
    CredentialsError,
    NotFoundError,
    PathError,
    ShoalError,
    StorageConnectionError,
    StorageError,
)

__all__ = ["EXPIRED_CODES", "S3Where", "classify", "error_info", "map_error", "wants_refresh"]

THROTTLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException"}
)
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "RequestExpired"}
)
#: Codes after which refreshable credentials are fetched again once (early revocation, skew).
REFRESH_CODES = EXPIRED_CODES | {"InvalidAccessKeyId", "InvalidToken"}
STS_OPERATIONS = frozenset(
    {"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetRoleCredentials"}
)
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
NO_BUCKET_CODES = frozenset({"NoSuchBucket", "NotFound", "404"})


def error_info(exc: ClientError) -> tuple[str, int]:
    """``(code, http_status)`` of a botocore ``ClientError`` (``""``/``0`` when absent)."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def classify(exc: BaseException) -> Verdict:
    """The retry verdict for one failed S3 attempt."""
    if isinstance(exc, ClientError):
        code, status = error_info(exc)
        if code in THROTTLE_CODES or status in (429, 503):
            return Verdict(True, throttled=True)
        return Verdict(code in TRANSIENT_CODES or status in TRANSIENT_STATUS)
    if isinstance(
        exc,
        HTTPClientError
        | BotoConnectionError
        | IncompleteReadError
        | aiohttp.ClientError
        | ConnectionError
        | TimeoutError,
    ):
        # connection refused / reset / closed, read timeouts, a body cut off mid-read
        return Verdict(True)
    if isinstance(exc, OSError) and not isinstance(exc, ShoalError):
        return Verdict(True)
    return NO_RETRY


def wants_refresh(exc: BaseException) -> bool:
    """Whether the store rejected the credentials in a way a refresh may fix."""
    return isinstance(exc, ClientError) and error_info(exc)[0] in REFRESH_CODES


@dataclass(frozen=True, slots=True)
class S3Where:
    """What an error message says about where it happened (no secrets)."""

    url: str
    bucket: str
    endpoint: str
    source: str  # where the credentials came from
    region: str
    has_token: bool  # temporary credentials (a session token, refreshable ones)

    def path(self, key: str) -> str:
        return f"{self.url}/{key}" if key else self.url

    def no_bucket(self, path: str) -> str:
        return (
            f"bucket {self.bucket!r} does not exist at {self.endpoint} ({path}, credentials "
            f"from {self.source}); check the bucket name, creds['endpoint_url'] and "
            "creds['aws_region'], or create the bucket first"
        )


def map_error(exc: BaseException, where: S3Where, op: str, key: str, attempts: int) -> ShoalError:
    """The shoal error for ``exc``, raised by ``op`` on ``key`` after ``attempts`` tries."""
    path = where.path(key)
    source, endpoint = where.source, where.endpoint
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(exc, ClientError):
        return _client_error(exc, where, op, key, tried)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return CredentialsError(
            f"{op} {path}: could not get credentials from {source}: {scrub(str(exc))}. Check "
            "that source, or pass creds={...}"
        )
    if isinstance(exc, StaleCredentialsError):
        return CredentialsError(
            f"{op} {path}: {source} returned credentials that are already expired; check that "
            "source and this machine's clock"
        )
    if isinstance(exc, ParamValidationError):
        return PathError(f"{op} {path}: {scrub(str(exc))}")
    if classify(exc).retry:
        reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        detail = scrub(str(exc))
        return StorageConnectionError(
            f"{op} {path}: cannot reach the S3 endpoint {endpoint}{tried} ({reason}"
            f"{': ' + detail if detail else ''}; credentials from {source}). Check "
            "creds['endpoint_url'] / AWS_ENDPOINT_URL_S3, the network, and that the server "
            "is running"
        )
    return StorageError(
        f"{op} {path} failed: {type(exc).__name__}: {scrub(str(exc))} (credentials from {source})"
    )


def _client_error(exc: ClientError, where: S3Where, op: str, key: str, tried: str) -> ShoalError:
    code, status = error_info(exc)
    path = where.path(key)
    source, endpoint = where.source, where.endpoint
    message = scrub(str(exc.response.get("Error", {}).get("Message", "")))
    if getattr(exc, "operation_name", "") in STS_OPERATIONS:
        return CredentialsError(
            f"could not get credentials for {path} from {source}: {code}: {message}. Check the "
            "role ARN, its trust policy, and the STS endpoint"
        )
    if code in ("NoSuchKey", "NotFound") or (status == 404 and code in ("", "404")):
        return NotFoundError(f"{key!r} not found in {where.url}")
    if code == "NoSuchBucket":
        return BucketNotFoundError(where.no_bucket(path))
    if code == "InvalidBucketName":
        return PathError(f"the store rejects the bucket name {where.bucket!r} ({path})")
    if code == "InvalidAccessKeyId":
        return CredentialsError(
            f"{op} {path}: the store does not know the access key from {source}"
            f"{' (temporary credentials may have expired)' if where.has_token else ''}. Check "
            f"the key id, the endpoint_url ({endpoint}) and region, or get fresh credentials"
        )
    if code == "SignatureDoesNotMatch":
        return CredentialsError(
            f"{op} {path}: the secret key from {source} does not match its access key (the "
            "signature was rejected). Check aws_secret_access_key, or that a proxy does not "
            "rewrite requests"
        )
    if code in EXPIRED_CODES or code == "InvalidToken":
        return CredentialsError(
            f"{op} {path}: the session token from {source} is "
            f"{'expired' if code != 'InvalidToken' else 'invalid'} ({code}). Get fresh "
            "credentials, or use a refreshable source (a profile, an IAM role) instead of a "
            "fixed session token"
        )
    if code in ("AccessDenied", "AllAccessDisabled", "Forbidden") or status == 403:
        verb = "write to" if op in ("put", "delete") else "read"
        return CredentialsError(
            f"{op} {path}: access denied for the credentials from {source}: they are valid but "
            f"not allowed to {verb} {where.url}. Grant them the permission (e.g. s3:GetObject / "
            "s3:PutObject / s3:ListBucket on the bucket and prefix) or use other credentials"
        )
    if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301") or status == 301:
        return StorageError(
            f"{op} {path}: bucket {where.bucket!r} is in another region than {where.region!r}; "
            "pass creds={'aws_region': ...} with the bucket's region"
        )
    if code == "RequestTimeTooSkewed":
        return StorageError(
            f"{op} {path}: the store rejects the request time; this machine's clock is off, fix "
            "it (e.g. enable NTP)"
        )
    what = f"{code or 'HTTP ' + str(status)}: {message}".rstrip(": ")
    return StorageError(
        f"{op} {path} failed{tried}: {what} (endpoint {endpoint}, credentials from {source})"
    )
