"""The ``creds`` argument of ``gcs://`` paths, checked: :class:`GcsCredsSpec` says which kind of
credentials were asked for, and :class:`GoogleEndpoints` where Google's auth services are.

Nothing here reads a file or touches the network; a bad argument is an
:class:`~shoal.errors.InvalidCredsError` naming the key that was wrong.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InvalidCredsError

__all__ = [
    "DEFAULT_AUTH_URI",
    "DEFAULT_METADATA_HOST",
    "DEFAULT_TOKEN_URI",
    "MODES",
    "SCOPE_READ_ONLY",
    "SCOPE_READ_WRITE",
    "GcsCredsSpec",
    "GoogleEndpoints",
    "token_lifetime",
]

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
DEFAULT_METADATA_HOST = "metadata.google.internal"
SCOPE_READ_ONLY = "https://www.googleapis.com/auth/devstorage.read_only"
SCOPE_READ_WRITE = "https://www.googleapis.com/auth/devstorage.read_write"

MODES = ("google_default", "anon", "browser", "cache")


@dataclass(frozen=True, slots=True)
class GoogleEndpoints:
    """Where Google's auth services are. ``from_env()`` reads the overrides at call time."""

    token_uri: str = DEFAULT_TOKEN_URI
    auth_uri: str = DEFAULT_AUTH_URI
    metadata_host: str = DEFAULT_METADATA_HOST

    @classmethod
    def from_env(cls) -> GoogleEndpoints:
        return cls(
            token_uri=os.environ.get("SHOAL_GCS_TOKEN_URI") or DEFAULT_TOKEN_URI,
            auth_uri=os.environ.get("SHOAL_GCS_AUTH_URI") or DEFAULT_AUTH_URI,
            metadata_host=(
                os.environ.get("GCE_METADATA_HOST")
                or os.environ.get("GCE_METADATA_ROOT")
                or DEFAULT_METADATA_HOST
            ),
        )


# -- parsing the creds argument ------------------------------------------------------------

_METHOD_KEYS = ("method", "client_id", "client_secret", "browser_timeout", "endpoint_url")
_TOKEN_KEYS = ("gcs_oauth_token", "expires_in", "expiration", "project_id", "endpoint_url")
_KEY_TYPES = (
    "service_account",
    "authorized_user",
    "external_account",
    "impersonated_service_account",
)


@dataclass(frozen=True)
class GcsCredsSpec:
    """A validated ``creds`` argument. Secret-bearing fields are left out of the repr."""

    kind: Literal["default", "anon", "browser", "cache", "file", "info", "token"]
    explicit: bool = False  # "google_default" was asked for (no anonymous fallback)
    path: str | None = None
    info: Mapping[str, Any] | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_expires_in: float | None = None
    endpoint_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    browser_timeout: float | None = None

    @classmethod
    def parse(cls, creds: object, *, path: str) -> GcsCredsSpec:
        """Validate ``creds`` for ``path``; raise :class:`InvalidCredsError` naming the key."""
        if creds is None:
            return cls("default")
        if isinstance(creds, os.PathLike):
            creds = os.fspath(creds)
        if isinstance(creds, str):
            return cls._parse_str(creds, path=path)
        if isinstance(creds, Mapping):
            return cls._parse_dict(creds, path=path)
        raise InvalidCredsError(
            f"creds for {path} must be a key file path, a dict, or one of "
            f"{', '.join(repr(m) for m in MODES)}; got {type(creds).__name__}"
        )

    @classmethod
    def _parse_str(cls, creds: str, *, path: str, **extra: Any) -> GcsCredsSpec:
        if not creds.strip():
            raise InvalidCredsError(
                f"creds for {path} is an empty string; pass a key file path or one of "
                f"{', '.join(repr(m) for m in MODES)}"
            )
        if creds == "google_default":
            return cls("default", explicit=True, **extra)
        if creds in ("anon", "browser", "cache"):
            return cls(creds, **extra)  # type: ignore[arg-type]
        return cls("file", path=os.path.expanduser(creds), **extra)

    @classmethod
    def _parse_dict(cls, creds: Mapping[str, Any], *, path: str) -> GcsCredsSpec:
        for key in creds:
            if not isinstance(key, str):
                raise InvalidCredsError(f"creds for {path} has a non-string key")
        endpoint = creds.get("endpoint_url")
        if endpoint is not None and (
            not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://"))
        ):
            raise InvalidCredsError(
                f"creds['endpoint_url'] for {path} must be an http:// or https:// URL"
            )
        extra: dict[str, Any] = {"endpoint_url": endpoint.rstrip("/") if endpoint else None}
        if "type" in creds:
            info = {k: v for k, v in creds.items() if k != "endpoint_url"}
            _check_key_type(info, f"the creds dict for {path}")
            return cls("info", info=info, **extra)
        if "json_credentials" in creds:
            _only(creds, ("json_credentials", "endpoint_url"), path)
            raw = creds["json_credentials"]
            try:
                info = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                raise InvalidCredsError(
                    f"creds['json_credentials'] for {path} is not valid JSON"
                ) from None
            if not isinstance(info, Mapping):
                raise InvalidCredsError(f"creds['json_credentials'] for {path} is not an object")
            _check_key_type(info, f"creds['json_credentials'] for {path}")
            return cls("info", info=dict(info), **extra)
        if "gcs_oauth_token" in creds:
            _only(creds, _TOKEN_KEYS, path)
            token = creds["gcs_oauth_token"]
            if not isinstance(token, str) or not token:
                raise InvalidCredsError(
                    f"creds['gcs_oauth_token'] for {path} must be a non-empty string"
                )
            expires_in = token_lifetime(creds, f"creds for {path}")
            return cls("token", token=token, token_expires_in=expires_in, **extra)
        if "method" in creds:
            _only(creds, _METHOD_KEYS, path)
            method = creds["method"]
            if isinstance(method, os.PathLike):
                method = os.fspath(method)
            if not isinstance(method, str):
                raise InvalidCredsError(f"creds['method'] for {path} must be a string")
            for key in ("client_id", "client_secret"):
                if key in creds and not isinstance(creds[key], str):
                    raise InvalidCredsError(f"creds[{key!r}] for {path} must be a string")
            timeout = creds.get("browser_timeout")
            if timeout is not None and not isinstance(timeout, int | float):
                raise InvalidCredsError(
                    f"creds['browser_timeout'] for {path} must be a number of seconds"
                )
            extra.update(
                client_id=creds.get("client_id"),
                client_secret=creds.get("client_secret"),
                browser_timeout=timeout,
            )
            return cls._parse_str(method, path=path, **extra)
        _only(creds, ("endpoint_url",), path)
        return cls("default", **extra)


def token_lifetime(creds: Mapping[str, Any], origin: str) -> float | None:
    """Seconds a vended token has left: ``expires_in``, else ``expiration`` (Unix time)."""
    expires_in = creds.get("expires_in")
    if expires_in is not None:
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise InvalidCredsError(f"'expires_in' in {origin} must be a number of seconds")
        return float(expires_in)
    expiration = creds.get("expiration")
    if expiration is None:
        return None
    try:
        return float(expiration) - time.time()
    except (TypeError, ValueError):
        raise InvalidCredsError(f"'expiration' in {origin} must be a Unix time") from None


def _only(creds: Mapping[str, Any], accepted: tuple[str, ...], path: str) -> None:
    for key in creds:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidCredsError(
                f"unknown key {key!r} in creds for {path}{hint}; this form accepts "
                f"{', '.join(accepted)}; a service-account key dict has 'type': 'service_account'"
            )


def _check_key_type(info: Mapping[str, Any], origin: str) -> None:
    kind = info.get("type")
    if kind not in _KEY_TYPES:
        raise InvalidCredsError(
            f"{origin} has type {kind!r}; shoal understands {', '.join(_KEY_TYPES)} "
            "(a service-account JSON key as downloaded from the Cloud console has "
            "'type': 'service_account')"
        )
