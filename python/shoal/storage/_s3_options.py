"""What an ``s3://`` path may look like, and the S3 provider's tuning knobs.

:func:`parse_location` checks a location against S3's bucket naming rules and refuses what
S3 would take literally but nobody means (empty, ``.`` or ``..`` segments, credentials in the
path). :class:`S3Options` holds the provider's limits; ``S3Options.from_env()`` reads
``SHOAL_S3_<FIELD>`` overrides through the one settings parser.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass, fields
from typing import Any

from .._env import env_float, env_int
from .._retry import RetryPolicy
from ..errors import PathError, StorageError

__all__ = ["MiB", "S3Options", "check_bucket", "parse_location"]

MiB = 1 << 20

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

#: Smallest values of the S3 options (the rest must not be negative).
_MINIMUM = {"concurrency": 1, "max_attempts": 1, "parts_in_flight": 1, "part_size": 5 * MiB}


@dataclass(frozen=True, slots=True)
class S3Options:
    """Tuning of the S3 provider. ``from_env()`` reads ``SHOAL_S3_<FIELD>`` overrides
    (e.g. ``SHOAL_S3_MAX_ATTEMPTS=2``, ``SHOAL_S3_CONNECT_TIMEOUT=1``)."""

    concurrency: int = 64  # requests in flight per provider (= connection pool size)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # longest silence while reading a response
    request_timeout: float = 120.0  # whole attempt, plus the payload at min_rate
    min_rate: float = 1.0 * MiB  # bytes/s a large transfer is allowed before it times out
    max_attempts: int = 6  # 1 try + 5 retries
    backoff_base: float = 0.1  # seconds; doubled per retry, jittered, x5 for throttling
    backoff_max: float = 10.0
    multipart_threshold: int = 64 * MiB  # objects above this are uploaded in parts
    part_size: int = 16 * MiB
    parts_in_flight: int = 8  # per upload: bounds memory to parts_in_flight x part_size
    coalesce_gap: int = 64 * 1024  # get_ranges: merge ranges closer than this
    coalesce_max: int = 16 * MiB  # ... into GETs of at most this many bytes
    list_page: int = 1000
    # GETs signed and sent by shoal (see _s3_lean, _http_get); 0: through botocore like the rest
    lean_reads: int = 1

    @classmethod
    def from_env(cls, **overrides: Any) -> S3Options:
        values: dict[str, Any] = {}
        defaults = cls()
        for f in fields(cls):
            default = getattr(defaults, f.name)
            name = f"SHOAL_S3_{f.name.upper()}"
            low = _MINIMUM.get(f.name, 0)
            if isinstance(default, int):
                values[f.name] = env_int(name, default, min=low)
            else:
                values[f.name] = env_float(name, default, min=low)
        values.update(overrides)
        opts = cls(**values)
        if opts.concurrency < 1 or opts.max_attempts < 1 or opts.parts_in_flight < 1:
            raise StorageError(
                "S3 options concurrency, max_attempts and parts_in_flight must be >= 1"
            )
        if opts.part_size < 5 * MiB:
            raise StorageError("S3 part_size must be at least 5 MiB (the S3 minimum)")
        return opts

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
        )


def parse_location(location: str) -> tuple[str, str]:
    """``"bucket/some/prefix"`` → ``("bucket", "some/prefix")``; raise :class:`PathError` for a
    malformed location or an invalid bucket name."""
    path = f"s3://{location}"
    if any((c.isspace() and c != " ") or ord(c) < 32 for c in location):
        raise PathError(f"{path!r} contains control characters")
    bucket, _, prefix = location.partition("/")
    if not bucket:
        raise PathError(f"{path!r} names no bucket; use s3://bucket/path/to/dataset")
    if "@" in location or ":" in bucket:
        # maybe user:password@host: never echo it
        raise PathError(
            "an s3:// path cannot carry credentials, a host or a port; use s3://bucket/path "
            "and pass the keys and endpoint_url in creds"
        )
    if "?" in bucket or "#" in bucket:
        raise PathError(f"{path!r} is not a valid S3 path; use s3://bucket/path")
    check_bucket(bucket, path)
    prefix = prefix.strip("/")
    if prefix:
        parts = prefix.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise PathError(
                f"{path!r} has an empty, '.' or '..' path segment; S3 keys are taken literally, "
                "so write the path without them"
            )
    return bucket, prefix


def check_bucket(bucket: str, path: str) -> None:
    problem = None
    if not 3 <= len(bucket) <= 63:
        problem = "must be 3 to 63 characters long"
    elif not _BUCKET.match(bucket):
        problem = (
            "may contain only lowercase letters, digits, '.' and '-', and must start and end "
            "with a letter or digit"
        )
    elif ".." in bucket or ".-" in bucket or "-." in bucket:
        problem = "may not contain '..', '.-' or '-.'"
    else:
        with contextlib.suppress(ValueError):
            ipaddress.IPv4Address(bucket)
            problem = "may not look like an IP address"
    if problem:
        raise PathError(f"invalid S3 bucket name {bucket!r} in {path!r}: a bucket name {problem}")
