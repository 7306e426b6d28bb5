"""What a user passes as S3 ``creds``, and the credentials resolved from it: plain data.

Kept apart from :mod:`shoal.auth.aws` (the credential chain, which needs botocore's and
aiobotocore's sessions): validating ``creds`` and reading with explicit keys must not pay for
importing those (a fresh process's first open of an ``s3://`` dataset spent most of its time
there).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._secrets import RedactSecrets, remember_secret
from ..errors import InvalidCredsError

#: Keys a ``creds`` dict for s3:// may have (Deep Lake v3's names).
ACCEPTED_KEYS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "endpoint_url",
    "aws_region",
    "region",
    "profile_name",
)


def mask_key_id(key_id: str | None) -> str:
    """``AKIA…WXYZ``: enough to tell keys apart in a message, not the whole id."""
    if not key_id:
        return "?"
    if len(key_id) <= 8:
        return key_id[:2] + "…"
    return f"{key_id[:4]}…{key_id[-4:]}"


@dataclass(frozen=True, slots=True, repr=False)
class AwsCredsSpec:
    """A validated ``creds`` argument. Empty means "use the default AWS chain"."""

    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None

    def __repr__(self) -> str:
        parts = []
        if self.access_key_id:
            parts.append(f"aws_access_key_id={mask_key_id(self.access_key_id)!r}")
        if self.secret_access_key:
            parts.append("aws_secret_access_key='***'")
        if self.session_token:
            parts.append("aws_session_token='***'")
        for name, value in (
            ("endpoint_url", self.endpoint_url),
            ("aws_region", self.region),
            ("profile_name", self.profile),
        ):
            if value:
                parts.append(f"{name}={value!r}")
        return f"AwsCredsSpec({', '.join(parts)})"

    @property
    def has_keys(self) -> bool:
        return self.access_key_id is not None

    @classmethod
    def parse(cls, creds: object, *, path: str) -> AwsCredsSpec:
        """Validate ``creds`` for ``path``; raise :class:`InvalidCredsError` naming the key."""
        if creds is None or (isinstance(creds, str) and creds.upper() == "ENV"):
            return cls()  # deeplake's creds="ENV": the environment / default chain
        if not isinstance(creds, Mapping):
            raise InvalidCredsError(
                f"creds for {path} must be a dict (or None to use the default AWS credential "
                f"chain), not {type(creds).__name__}; accepted keys: {', '.join(ACCEPTED_KEYS)}"
            )
        values: dict[str, str] = {}
        for key, value in creds.items():
            if not isinstance(key, str) or key not in ACCEPTED_KEYS:
                raise InvalidCredsError(_unknown_key_message(key, path))
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise InvalidCredsError(
                    f"creds[{key!r}] for {path} must be a str, not {type(value).__name__}"
                )
            values[key] = value
        region = values.get("aws_region")
        alias = values.get("region")
        if region and alias and region != alias:
            raise InvalidCredsError(
                f"creds for {path} give two regions, aws_region={region!r} and "
                f"region={alias!r}; pass one of them"
            )
        key_id = values.get("aws_access_key_id")
        secret = values.get("aws_secret_access_key")
        if (key_id is None) != (secret is None):
            have, missing = (
                ("aws_access_key_id", "aws_secret_access_key")
                if key_id
                else ("aws_secret_access_key", "aws_access_key_id")
            )
            raise InvalidCredsError(
                f"creds for {path} have {have} but no {missing}; pass both, or neither to use "
                "the default AWS credential chain"
            )
        if "aws_session_token" in values and key_id is None:
            raise InvalidCredsError(
                f"creds for {path} have aws_session_token but no aws_access_key_id / "
                "aws_secret_access_key; a session token only works with the keys it was "
                "issued with"
            )
        if key_id is not None and "profile_name" in values:
            raise InvalidCredsError(
                f"creds for {path} have both keys and profile_name={values['profile_name']!r}; "
                "pass one or the other"
            )
        endpoint = values.get("endpoint_url")
        if endpoint is not None and not re.match(r"^https?://[^/\s@]+(/|$)", endpoint):
            shown = "" if "@" in endpoint else f", got {endpoint!r}"  # user:password@host?
            raise InvalidCredsError(
                f"creds['endpoint_url'] for {path} must be an http:// or https:// URL without "
                f"credentials in it{shown}"
            )
        return cls(
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=values.get("aws_session_token"),
            endpoint_url=endpoint.rstrip("/") if endpoint else None,
            region=region or alias,
            profile=values.get("profile_name"),
        )


def _unknown_key_message(key: object, path: str) -> str:
    accepted = ", ".join(ACCEPTED_KEYS)
    shown = repr(key) if isinstance(key, str) else f"of type {type(key).__name__}"
    hint = ""
    if isinstance(key, str):
        if key.lower() in ACCEPTED_KEYS:
            hint = f" (keys are lowercase: did you mean {key.lower()!r}?)"
        else:
            close = difflib.get_close_matches(key.lower(), ACCEPTED_KEYS, n=1)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
    return f"unknown creds key {shown} for {path}{hint}; accepted keys: {accepted}"


@dataclass(repr=False)
class ResolvedAws:
    """A session whose credential chain is pinned to resolved credentials, and where they
    came from (for messages). ``credentials`` is ``None`` only for unsigned access."""

    session: Any
    credentials: Any
    source: str
    region: str
    endpoint_url: str | None
    refreshable: bool

    def __repr__(self) -> str:
        return f"ResolvedAws(source={self.source!r}, region={self.region!r})"


class StaleCredentialsError(Exception):
    """A credential source handed over credentials that are already expired."""


@dataclass(frozen=True, repr=False)
class StaticKeys:
    """Explicit keys, in the shape signing code asks for (``await get_frozen_credentials()``)."""

    access_key: str
    secret_key: str
    token: str | None = None
    method: str = "explicit"

    def __repr__(self) -> str:
        return f"StaticKeys(access_key={mask_key_id(self.access_key)!r})"

    async def get_frozen_credentials(self) -> StaticKeys:
        return self


def explicit_source(spec: AwsCredsSpec) -> str:
    """Where explicit keys came from, in words, without secrets."""
    kind = "key and session token" if spec.session_token else "key"
    return f"the creds dict ({kind} {mask_key_id(spec.access_key_id)})"


def _region_without_session(spec: AwsCredsSpec) -> str | None:
    """The region botocore would pick, when no config can change it (None: ask botocore)."""
    if spec.region is not None:
        return spec.region
    config = os.path.expanduser(os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"))
    configured = any(os.environ.get(v) for v in ("AWS_REGION", "AWS_DEFAULT_REGION"))
    return None if configured or os.path.exists(config) else "us-east-1"


def resolve_vended_without_session(spec: AwsCredsSpec, credentials: Any) -> ResolvedAws | None:
    """Credentials the platform vends (and refreshes) for an explicit endpoint, resolved with
    no botocore session: reads sign with them directly. ``None`` where botocore must decide."""
    if not spec.endpoint_url or spec.has_keys or spec.profile:
        return None
    region = _region_without_session(spec)
    if region is None:
        return None
    return ResolvedAws(
        session=None,
        credentials=credentials,
        source="credentials vended by the dataset platform",
        region=region,
        endpoint_url=spec.endpoint_url,
        refreshable=True,
    )


def resolve_without_session(spec: AwsCredsSpec) -> ResolvedAws | None:
    """Explicit keys and endpoint resolved with no botocore session, where that gives what
    the session would: the region is given, or nothing configures one (no region variable and
    no AWS config file). ``None`` otherwise."""
    if not (spec.has_keys and spec.endpoint_url) or spec.profile:
        return None
    region = _region_without_session(spec)
    if region is None:
        return None
    assert spec.access_key_id is not None and spec.secret_access_key is not None
    remember_secret(spec.secret_access_key)
    remember_secret(spec.session_token)
    keys = StaticKeys(spec.access_key_id, spec.secret_access_key, spec.session_token)
    return ResolvedAws(
        session=None,
        credentials=keys,
        source=explicit_source(spec),
        region=region,
        endpoint_url=spec.endpoint_url,
        refreshable=False,
    )


# ----------------------------------------------------------------------------------------------
# keeping secrets out of botocore's logs (the scrubber is shoal._secrets)

_LOGGERS = (
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.auth",
    "botocore.credentials",
    "botocore.utils",
    "botocore.retryhandler",
    "botocore.hooks",
    "aiobotocore.endpoint",
    "aiobotocore.parsers",
    "aiobotocore.credentials",
    "aiobotocore.utils",
)
_filter = RedactSecrets()


def install_log_redaction() -> None:
    """Attach :class:`RedactSecrets` to botocore's chatty loggers (idempotent)."""
    for name in _LOGGERS:
        log = logging.getLogger(name)
        if _filter not in log.filters:
            log.addFilter(_filter)
