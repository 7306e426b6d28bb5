"""What a ``gcs://`` / ``gs://`` path may look like, where the storage API is, and the GCS
provider's tuning knobs.

:func:`parse_location` checks a location against GCS's bucket naming rules. The storage
endpoint is ``https://storage.googleapis.com`` unless overridden, in this order: the
``endpoint_url`` key of a ``creds`` dict, ``SHOAL_GCS_ENDPOINT_URL``, ``STORAGE_EMULATOR_HOST``
(the emulator convention: without explicit creds, requests are then anonymous).
:class:`GcsOptions` holds the limits; ``GcsOptions.from_env()`` reads ``SHOAL_GCS_TIMEOUT``,
``SHOAL_GCS_MAX_ATTEMPTS``, ``SHOAL_GCS_CONCURRENCY`` and ``SHOAL_GCS_RESUMABLE_THRESHOLD``
(bytes) through the one settings parser.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from .._env import env_float, env_int
from .._retry import RetryPolicy
from ..auth import gcs as gcs_auth
from ..errors import InvalidCredsError, PathError

__all__ = ["DEFAULT_ENDPOINT", "GcsOptions", "endpoint_for", "parse_location"]

DEFAULT_ENDPOINT = "https://storage.googleapis.com"
CHUNK_ALIGN = 256 * 1024  # resumable pieces must be multiples of 256 KiB
MIB = 1024 * 1024
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


@dataclass(frozen=True, slots=True)
class GcsOptions:
    """Per-provider tuning. :meth:`from_env` applies the ``SHOAL_GCS_*`` overrides."""

    timeout: float = 60.0
    max_attempts: int = 5
    concurrency: int = 64
    resumable_threshold: int = 8 * MIB
    resumable_chunk: int = 8 * MIB
    backoff_base: float = 0.1
    backoff_max: float = 8.0
    list_page_size: int = 1000

    @classmethod
    def from_env(cls) -> GcsOptions:
        d = cls()
        return cls(
            timeout=env_float("SHOAL_GCS_TIMEOUT", d.timeout, min=0.001),
            max_attempts=env_int("SHOAL_GCS_MAX_ATTEMPTS", d.max_attempts, min=1),
            concurrency=env_int("SHOAL_GCS_CONCURRENCY", d.concurrency, min=1),
            resumable_threshold=env_int(
                "SHOAL_GCS_RESUMABLE_THRESHOLD", d.resumable_threshold, min=1
            ),
        )

    def normalized(self) -> GcsOptions:
        chunk = max(CHUNK_ALIGN, self.resumable_chunk // CHUNK_ALIGN * CHUNK_ALIGN)
        return replace(
            self,
            max_attempts=max(1, self.max_attempts),
            concurrency=max(1, self.concurrency),
            resumable_chunk=chunk,
        )

    def retry_policy(self) -> RetryPolicy:
        """Backoff doubles from ``backoff_base`` up to ``backoff_max``; throttling (429) is
        not slowed further than ``Retry-After`` says."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            throttle_factor=1.0,
        )


def parse_location(location: str) -> tuple[str, str]:
    """``"bucket/some/prefix/"`` → ``("bucket", "some/prefix")``, checking GCS's naming rules."""
    location = location.strip()
    bucket, _, prefix = location.partition("/")
    shown = f"gcs://{location}"
    if not bucket:
        raise PathError(f"{shown!r} names no bucket; use gcs://bucket/path/to/dataset")
    problem = _bucket_problem(bucket)
    if problem:
        raise PathError(f"{shown!r}: {bucket!r} is not a valid GCS bucket name: {problem}")
    prefix = prefix.strip("/")
    parts = prefix.split("/") if prefix else []
    if any(p in ("", ".", "..") for p in parts) or any(c in prefix for c in "\r\n#?"):
        raise PathError(
            f"{shown!r}: the path inside the bucket may not contain empty, '.' or '..' "
            "segments, line breaks, '#' or '?'"
        )
    return bucket, prefix


def _bucket_problem(name: str) -> str | None:
    if len(name) < 3:
        return "it must be at least 3 characters long"
    if not _BUCKET_RE.match(name):
        if name != name.lower():
            return "it must be lowercase"
        return (
            "use only lowercase letters, digits, '-', '_' and '.', starting and ending with a "
            "letter or digit"
        )
    if len(name) > 222 or any(len(p) > 63 for p in name.split(".")):
        return "it may be at most 63 characters (222 with dots, 63 between dots)"
    if "." not in name and len(name) > 63:  # pragma: no cover - covered by the rule above
        return "it may be at most 63 characters"
    if ".." in name or ".-" in name or "-." in name:
        return "dots may not be next to each other or to a dash"
    if _IPV4_RE.match(name):
        return "it may not look like an IP address"
    if name.startswith("goog") or "google" in name or "g00gle" in name:
        return "it may not start with 'goog' or contain 'google'"
    return None


def endpoint_for(spec: gcs_auth.GcsCredsSpec) -> tuple[str, bool]:
    """The storage API root, and whether it came from ``STORAGE_EMULATOR_HOST``."""
    if spec.endpoint_url:
        return spec.endpoint_url, False
    env = os.environ.get("SHOAL_GCS_ENDPOINT_URL")
    if env:
        if not env.startswith(("http://", "https://")):
            raise InvalidCredsError(
                f"SHOAL_GCS_ENDPOINT_URL={env!r} must start with http:// or https://"
            )
        return env.rstrip("/"), False
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        url = emulator if emulator.startswith(("http://", "https://")) else f"http://{emulator}"
        return url.rstrip("/"), True
    return DEFAULT_ENDPOINT, False
