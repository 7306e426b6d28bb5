"""Google Cloud credentials for ``gcs://`` / ``gs://`` paths: every ``creds=`` option, one resolver.

What ``creds`` may be (Deep Lake v3's options, plus what people use in practice):

- a **service-account key file** path (``"key.json"``), or the **same key as a dict**; an
  ``authorized_user`` JSON (what ``gcloud auth application-default login`` writes) works too;
- ``"browser"``: the OAuth installed-app flow. A redirect server listens on 127.0.0.1, the
  consent URL is printed (and opened when a browser can be), and the refresh token is saved
  for ``"cache"`` in ``~/.config/shoal/gcs_token.json`` (``$XDG_CONFIG_HOME``, mode 0600);
- ``"cache"``: reuse and refresh that saved login;
- ``"google_default"``: ``GOOGLE_APPLICATION_CREDENTIALS``, then gcloud's application-default
  credentials file, then the GCE metadata server. Any of these that is present but broken is
  an error, never a silent fall-through;
- ``None`` (no creds): the same chain, then a cached browser login, then anonymous access (the
  error for a private bucket then says no credentials were found);
- ``"anon"``: anonymous, for public buckets;
- a dict ``{"gcs_oauth_token": "...", "expires_in": s}``: a pre-issued access token (what a
  platform vends); ``{"json_credentials": "<key JSON>"}``; or ``{"method": "<any string form
  above>", ...}``. Any of the dict forms may add ``endpoint_url`` (the storage endpoint);
  ``"method"`` dicts may add ``client_id``/``client_secret``/``browser_timeout`` for the browser.

Endpoints default to Google's and can be overridden for tests and private deployments, read
when credentials are resolved (never at import): ``SHOAL_GCS_TOKEN_URI`` (used when a key file
has no ``token_uri``, and by the browser flow), ``SHOAL_GCS_AUTH_URI`` (browser consent page),
``GCE_METADATA_HOST`` (or ``GCE_METADATA_ROOT``; ``host:port``). The OAuth client of the browser
flow comes from ``creds``, ``SHOAL_GCS_CLIENT_ID``/``SHOAL_GCS_CLIENT_SECRET``, or (like Deep
Lake) the client in gcloud's application-default credentials file.

Tokens are refreshed before they expire: in the background once 75% of the lifetime is gone
(at most 5 minutes before expiry), and every caller waits for the one refresh in flight only
in the last 5% (at most a minute). Secrets (keys, tokens, refresh tokens, client secrets) never
appear in a repr, a log record or an error message: messages name the *source*.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import difflib
import hashlib
import io
import json
import logging
import os
import random
import secrets
import stat
import sys
import time
import webbrowser
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlencode

import aiohttp
import jwt
from aiohttp import web
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import CredentialsError, InvalidCredsError, StorageConnectionError

__all__ = [
    "DEFAULT_AUTH_URI",
    "DEFAULT_METADATA_HOST",
    "DEFAULT_TOKEN_URI",
    "SCOPE_READ_ONLY",
    "SCOPE_READ_WRITE",
    "GcsAuth",
    "GcsCredsSpec",
    "GoogleEndpoints",
    "Refresher",
    "resolve",
    "token_cache_path",
]

log = logging.getLogger("shoal.auth.gcs")

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
DEFAULT_METADATA_HOST = "metadata.google.internal"
SCOPE_READ_ONLY = "https://www.googleapis.com/auth/devstorage.read_only"
SCOPE_READ_WRITE = "https://www.googleapis.com/auth/devstorage.read_write"

_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_MODES = ("google_default", "anon", "browser", "cache")
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TOKEN_ATTEMPTS = 3
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise InvalidCredsError(f"{name}={raw!r} is not a number of seconds") from None


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
            f"{', '.join(repr(m) for m in _MODES)}; got {type(creds).__name__}"
        )

    @classmethod
    def _parse_str(cls, creds: str, *, path: str, **extra: Any) -> GcsCredsSpec:
        if not creds.strip():
            raise InvalidCredsError(
                f"creds for {path} is an empty string; pass a key file path or one of "
                f"{', '.join(repr(m) for m in _MODES)}"
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
            expires_in = _token_lifetime(creds, f"creds for {path}")
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


def _token_lifetime(creds: Mapping[str, Any], origin: str) -> float | None:
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


# -- token sources -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Issued:
    value: str = field(repr=False)
    expires_in: float


class _Source(abc.ABC):
    """Where access tokens come from. ``description`` names it without any secret."""

    description: str = ""
    refreshable: bool = True
    #: What to tell the user when the source is rejected.
    advice: str = ""

    @abc.abstractmethod
    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> _Issued:
        """A fresh access token."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _short(str(exc.os_error) or type(exc).__name__)
    return _short(str(exc)) or type(exc).__name__


async def _token_call(
    http: aiohttp.ClientSession,
    source: _Source,
    url: str,
    *,
    timeout: float,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    attempts: int = _TOKEN_ATTEMPTS,
) -> _Issued:
    """One token request (POST ``form``, or GET when there is none), with a few retries on
    throttling, server errors and dropped connections, mapped to shoal errors."""
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                if form is not None:
                    req = http.post(url, data=urlencode(form), headers={**_FORM, **(headers or {})})
                else:
                    req = http.get(url, headers=headers)
                async with req as resp:
                    status = resp.status
                    text = await resp.text(errors="replace")
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if attempt < attempts:
                await asyncio.sleep(0.1 * 2**attempt * random.uniform(0.5, 1.0))
                continue
            raise StorageConnectionError(
                f"cannot reach {url} to get an access token for {source.description}: "
                f"{_reason(exc)}; check the network, or the endpoint override "
                "(SHOAL_GCS_TOKEN_URI, the key file's token_uri, GCE_METADATA_HOST)"
            ) from None
        if status == 200:
            return _parse_token(text, source.description, url)
        if status in _RETRY_STATUS and attempt < attempts:
            await asyncio.sleep(0.1 * 2**attempt * random.uniform(0.5, 1.0))
            continue
        error = description = ""
        try:
            body = json.loads(text)
            if isinstance(body, dict):
                err = body.get("error")
                error = str(err.get("message", "")) if isinstance(err, dict) else str(err or "")
                description = str(body.get("error_description") or "")
        except ValueError:
            description = text
        detail = ": ".join(p for p in (error, _short(description)) if p)
        raise CredentialsError(
            f"{source.description} was rejected by {url} (HTTP {status}"
            f"{': ' + detail if detail else ''}); {source.advice}"
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _parse_token(text: str, description: str, url: str) -> _Issued:
    try:
        body = json.loads(text)
        value = body.get("access_token") or body["id_token"]
        expires_in = float(body.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CredentialsError(
            f"{url} answered the token request for {description} without an access "
            "token; check that the endpoint is Google's OAuth token endpoint"
        ) from None
    if not isinstance(value, str) or not value:
        raise CredentialsError(f"{url} returned an empty access token for {description}")
    return _Issued(value, expires_in)


class _ServiceAccount(_Source):
    advice = (
        "check that the key is current (it may have been deleted or rotated: create a new "
        "JSON key for the service account) and that the machine's clock is right"
    )

    def __init__(
        self, info: Mapping[str, Any], origin: str, scope: str, endpoints: GoogleEndpoints
    ) -> None:
        email, pem = info.get("client_email"), info.get("private_key")
        if not isinstance(email, str) or not isinstance(pem, str):
            raise CredentialsError(
                f"{origin} is not a usable service-account key: it lacks 'client_email' or "
                "'private_key'; download a JSON key for the service account from the Cloud "
                "console (IAM > Service accounts > Keys)"
            )
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CredentialsError(
                f"the private_key of service account {email} in {origin} is not a valid PEM "
                "RSA key; download a new JSON key for the service account"
            )
        self._key = key
        self._key_id = info.get("private_key_id")
        self.email = email
        self.scope = scope
        self.token_uri = str(info.get("token_uri") or endpoints.token_uri)
        self.description = f"service account {email} ({origin})"

    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> _Issued:
        now = int(time.time())
        claims = {
            "iss": self.email,
            "aud": self.token_uri,
            "scope": self.scope,
            "iat": now,
            "exp": now + 3600,
        }
        headers = {"kid": self._key_id} if isinstance(self._key_id, str) else None
        assertion = jwt.encode(claims, self._key, algorithm="RS256", headers=headers)
        form = {"grant_type": _JWT_GRANT, "assertion": assertion}
        return await _token_call(http, self, self.token_uri, form=form, timeout=timeout)


class _AuthorizedUser(_Source):
    def __init__(
        self,
        info: Mapping[str, Any],
        origin: str,
        endpoints: GoogleEndpoints,
        advice: str = (
            "log in again (`gcloud auth application-default login`, or creds='browser')"
        ),
    ) -> None:
        fields = {k: info.get(k) for k in ("client_id", "client_secret", "refresh_token")}
        missing = [k for k, v in fields.items() if not isinstance(v, str) or not v]
        if missing:
            raise CredentialsError(
                f"{origin} is an authorized_user file without {', '.join(missing)}; {advice}"
            )
        self._form = {"grant_type": "refresh_token", **{k: str(v) for k, v in fields.items()}}
        self.token_uri = str(info.get("token_uri") or endpoints.token_uri)
        self.description = origin
        self.advice = advice

    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> _Issued:
        return await _token_call(http, self, self.token_uri, form=self._form, timeout=timeout)


class _GceMetadata(_Source):
    advice = (
        "check that the VM (or pod) has a service account attached with storage scopes, "
        "or pass creds='path/to/key.json'"
    )

    def __init__(self, host: str) -> None:
        self.url = f"http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
        self.description = f"the GCE metadata server ({host})"

    async def fetch(
        self, http: aiohttp.ClientSession, timeout: float, attempts: int = _TOKEN_ATTEMPTS
    ) -> _Issued:
        headers = {"Metadata-Flavor": "Google"}
        return await _token_call(
            http, self, self.url, headers=headers, timeout=timeout, attempts=attempts
        )


class _StaticToken(_Source):
    refreshable = False
    advice = "ask for fresh credentials (the token may have expired or been revoked)"

    def __init__(self, token: str, expires_in: float | None) -> None:
        self._token = token
        self._expires_in = expires_in
        self._created = time.monotonic()
        self.description = "the pre-issued OAuth token in creds['gcs_oauth_token']"

    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> _Issued:
        if self._expires_in is None:
            return _Issued(self._token, 3600.0)
        left = self._expires_in - (time.monotonic() - self._created)
        if left <= 0:
            raise CredentialsError(
                f"{self.description} has expired; get a fresh token (or use a key file, "
                "which shoal refreshes by itself)"
            )
        return _Issued(self._token, left)


#: ``async () -> {"gcs_oauth_token": str, "expires_in": s (or "expiration": Unix time)}``: a
#: source of short-lived tokens (a platform that vends them), refreshed like any other.
Refresher = Callable[[], Awaitable[Mapping[str, Any]]]


class _Vended(_Source):
    advice = "ask the service that vends the tokens for fresh credentials"

    def __init__(self, refresh: Refresher, description: str) -> None:
        self._refresh = refresh
        self.description = description

    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> _Issued:
        try:
            async with asyncio.timeout(timeout):
                creds = await self._refresh()
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            raise StorageConnectionError(
                f"{self.description} gave no new token within {timeout:g} s"
            ) from None
        token = creds.get("gcs_oauth_token") if isinstance(creds, Mapping) else None
        if not isinstance(token, str) or not token:
            raise CredentialsError(f"{self.description} returned no 'gcs_oauth_token'")
        lifetime = _token_lifetime(creds, self.description)
        return _Issued(token, 3600.0 if lifetime is None else lifetime)


class _GcloudAioToken(_Source):
    """Key types shoal does not implement itself (workload identity federation, impersonation),
    served by gcloud-aio-auth's ``Token`` (only its ``refresh``: caching stays here)."""

    advice = "check the credential configuration file and the identities it names"

    def __init__(self, info: Mapping[str, Any], origin: str, scope: str) -> None:
        self._info = dict(info)
        self._scope = scope
        self.description = f"{info.get('type')} credentials ({origin})"
        self._token: Any = None
        self._token_http: aiohttp.ClientSession | None = None

    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> _Issued:
        from gcloud.aio.auth import Token

        if self._token is None or self._token_http is not http:
            self._token_http = http
            self._token = Token(
                service_file=io.StringIO(json.dumps(self._info)),
                session=cast(Any, http),  # typed for gcloud-rest's requests.Session too
                scopes=[self._scope],
            )
        try:
            async with asyncio.timeout(timeout):
                resp = await self._token.refresh(timeout=int(timeout))
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientResponseError as exc:
            raise CredentialsError(
                f"{self.description} was rejected (HTTP {exc.status}); {self.advice}"
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise StorageConnectionError(
                f"cannot get an access token for {self.description}: {_reason(exc)}"
            ) from None
        except (KeyError, ValueError, TypeError) as exc:
            raise CredentialsError(
                f"{self.description} could not be used ({type(exc).__name__}); {self.advice}"
            ) from None
        return _Issued(str(resp.value), float(resp.expires_in))


# -- the token cache: refresh before expiry, single flight ---------------------------------


@dataclass(slots=True)
class _Held:
    value: str = field(repr=False)
    acquired_at: float
    refresh_at: float  # from here on, refresh in the background
    must_refresh_at: float  # from here on, every caller waits for the refresh

    @classmethod
    def of(cls, issued: _Issued) -> _Held:
        now = time.monotonic()
        ttl = issued.expires_in
        if ttl <= 0:  # already expired (a vended token handed over late)
            return cls(issued.value, acquired_at=now, refresh_at=now, must_refresh_at=now)
        return cls(
            issued.value,
            acquired_at=now,
            refresh_at=now + ttl - min(300.0, ttl * 0.25),
            must_refresh_at=now + ttl - min(60.0, ttl * 0.05),
        )


class GcsAuth:
    """Access tokens for one provider: cached, refreshed before expiry, one refresh in flight.

    ``source`` is ``None`` for anonymous access. ``description`` says where credentials come
    from (for messages); it never holds a secret.
    """

    #: Seconds allowed for one token request.
    timeout: float = 30.0

    def __init__(self, source: _Source | None, description: str | None = None) -> None:
        self._source = source
        self._http: aiohttp.ClientSession | None = None
        self.description = description or (source.description if source else "anonymous access")
        self._held: _Held | None = None
        self._task: asyncio.Task[None] | None = None
        self._quiet_until = 0.0
        #: Number of tokens obtained so far (for tests and metrics).
        self.fetches = 0

    def bind(self, http: aiohttp.ClientSession) -> GcsAuth:
        """Use ``http`` (on the running loop) for token requests from now on. A refresh in
        flight on another loop (before a fork, say) is forgotten, not awaited."""
        self._http = http
        task = self._task
        if task is not None and task.get_loop() is not asyncio.get_running_loop():
            self._task = None
        return self

    def __repr__(self) -> str:
        return f"GcsAuth({self.description!r})"

    @property
    def anonymous(self) -> bool:
        return self._source is None

    @property
    def refreshable(self) -> bool:
        return self._source is not None and self._source.refreshable

    async def headers(self) -> dict[str, str]:
        """The ``Authorization`` header for a request (none when anonymous)."""
        if self._source is None:
            return {}
        return {"Authorization": f"Bearer {await self.token()}"}

    async def token(self) -> str:
        """A live access token: the cached one, or a fresh one (one request in flight)."""
        if self._source is None:
            raise CredentialsError(f"{self.description} has no access token")
        held = self._held
        now = time.monotonic()
        if held is not None:
            if now < held.refresh_at:
                return held.value
            if now < held.must_refresh_at:
                if now >= self._quiet_until:
                    self._refresh()
                return held.value
        await asyncio.shield(self._refresh())
        held = self._held
        if held is None:  # pragma: no cover - _fetch sets it or raises
            raise CredentialsError(f"no access token could be obtained from {self.description}")
        return held.value

    def invalidate(self, older_than: float) -> bool:
        """Drop the token if it was obtained before ``older_than`` (a monotonic time): the
        store rejected it. Return whether asking the source again can help."""
        if self._held is not None and self._held.acquired_at < older_than:
            self._held = None
        return self.refreshable

    def preload(self, issued: _Issued) -> None:
        self._held = _Held.of(issued)
        self.fetches += 1

    def _refresh(self) -> asyncio.Task[None]:
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(self._fetch())
            task.add_done_callback(self._refresh_done)
            self._task = task
        return task

    async def _fetch(self) -> None:
        assert self._source is not None
        if self._http is None:
            raise RuntimeError("GcsAuth.bind() was not called")
        issued = await self._source.fetch(self._http, self.timeout)
        self._held = _Held.of(issued)
        self.fetches += 1
        log.debug(
            "new access token from %s (expires in %.0f s)", self.description, issued.expires_in
        )

    def _refresh_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so a failed background refresh never warns
        if exc is not None:
            self._quiet_until = time.monotonic() + 5.0
            if self._held is not None and time.monotonic() < self._held.must_refresh_at:
                log.warning("refreshing the access token from %s failed: %s", self.description, exc)

    async def close(self) -> None:
        """Stop a refresh in flight on the running loop."""
        task, self._task = self._task, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.wait({task})  # its outcome is retrieved by _refresh_done


# -- files and paths -------------------------------------------------------------------------


def _config_home() -> Path:
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"])
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else Path.home() / ".config"


def token_cache_path() -> Path:
    """Where ``creds="browser"`` saves its login and ``creds="cache"`` reads it:
    ``$SHOAL_GCS_TOKEN_CACHE``, else ``<user config dir>/shoal/gcs_token.json``."""
    override = os.environ.get("SHOAL_GCS_TOKEN_CACHE")
    return Path(override).expanduser() if override else _config_home() / "shoal" / "gcs_token.json"


def _gcloud_adc_path() -> Path:
    sdk = os.environ.get("CLOUDSDK_CONFIG")
    if sdk:
        base = Path(sdk)
    elif sys.platform == "win32" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"]) / "gcloud"
    else:
        base = Path.home() / ".config" / "gcloud"
    return base / "application_default_credentials.json"


def _read_json(path: Path, origin: str, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(f"{origin}: the file does not exist; {what}") from None
    except OSError as exc:
        raise CredentialsError(f"{origin}: cannot read it ({exc.strerror}); {what}") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"{origin} is not a JSON text file; {what}") from None
    try:
        info = json.loads(text)
    except ValueError:
        raise CredentialsError(f"{origin} is not valid JSON; {what}") from None
    if not isinstance(info, dict):
        raise CredentialsError(f"{origin} does not hold a JSON object; {what}")
    return info


_KEY_FILE_HINT = (
    "pass the path of a service-account JSON key (Cloud console: IAM > Service accounts > Keys) "
    "or an authorized_user file written by `gcloud auth application-default login`"
)


def _source_from_info(
    info: Mapping[str, Any], origin: str, scope: str, endpoints: GoogleEndpoints
) -> _Source:
    kind = info.get("type")
    if kind == "service_account":
        return _ServiceAccount(info, origin, scope, endpoints)
    if kind == "authorized_user":
        return _AuthorizedUser(info, f"user credentials ({origin})", endpoints)
    if kind in ("external_account", "impersonated_service_account"):
        return _GcloudAioToken(info, origin, scope)
    raise CredentialsError(
        f"{origin} has type {kind!r}, which shoal cannot use; {_KEY_FILE_HINT}"
        if kind is not None
        else f"{origin} has no 'type' field; {_KEY_FILE_HINT}"
    )


def _write_private_json(path: Path, info: Mapping[str, Any]) -> None:
    """Write ``info`` to ``path`` readable by the user only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dict(info), f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _load_cached_login(endpoints: GoogleEndpoints, path: Path | None = None) -> _AuthorizedUser:
    path = path or token_cache_path()
    origin = f"cached browser login {path}"
    redo = "log in again with creds='browser'"
    if not path.is_file():
        raise CredentialsError(
            f"no cached Google login at {path}; log in once with creds='browser' "
            "(or set SHOAL_GCS_TOKEN_CACHE to where the login was saved)"
        )
    if sys.platform != "win32":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); making it 0600", path, mode)
            os.chmod(path, 0o600)
    info = _read_json(path, origin, redo)
    return _AuthorizedUser(info, origin, endpoints, advice=redo)


# -- the browser (installed-app) flow --------------------------------------------------------


def _browser_available() -> bool:
    if os.environ.get("SHOAL_NO_BROWSER"):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(
        os.environ.get("BROWSER") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def _open_browser(url: str) -> bool:
    try:
        return bool(webbrowser.get().open(url, new=1, autoraise=True))
    except Exception:  # webbrowser.Error, or a broken browser command
        return False


def _oauth_client(spec: GcsCredsSpec) -> tuple[str, str]:
    client_id = spec.client_id or os.environ.get("SHOAL_GCS_CLIENT_ID")
    client_secret = spec.client_secret or os.environ.get("SHOAL_GCS_CLIENT_SECRET")
    if client_id and client_secret:
        return client_id, client_secret
    adc = _gcloud_adc_path()
    if adc.is_file():
        try:
            info = json.loads(adc.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
        if isinstance(info, dict) and info.get("client_id") and info.get("client_secret"):
            return str(info["client_id"]), str(info["client_secret"])
    raise CredentialsError(
        "creds='browser' needs an OAuth client (type 'Desktop app'): pass "
        "creds={'method': 'browser', 'client_id': ..., 'client_secret': ...}, set "
        "SHOAL_GCS_CLIENT_ID and SHOAL_GCS_CLIENT_SECRET, or run "
        f"`gcloud auth application-default login` once (its client is read from {adc})"
    )


async def _browser_login(
    spec: GcsCredsSpec, http: aiohttp.ClientSession, endpoints: GoogleEndpoints
) -> GcsAuth:
    client_id, client_secret = _oauth_client(spec)
    timeout = spec.browser_timeout or _env_float("SHOAL_GCS_BROWSER_TIMEOUT", 300.0)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(24)
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[tuple[str, str]] = loop.create_future()

    async def redirect(req: web.Request) -> web.Response:
        q = req.query
        if q.get("state") != state:
            return web.Response(status=400, text="Unexpected request: the state does not match.")
        if not answer.done():
            if q.get("code"):
                answer.set_result(("code", q["code"]))
            else:
                answer.set_result(("error", q.get("error", "no code in the redirect")))
        ok = q.get("code") is not None
        return web.Response(
            text="shoal is now authorized; you can close this window."
            if ok
            else "Authorization failed; see the terminal. You can close this window."
        )

    app = web.Application()
    app.router.add_get("/{tail:.*}", redirect)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        redirect_uri = f"http://127.0.0.1:{port}/"
        url = (
            endpoints.auth_uri
            + ("&" if "?" in endpoints.auth_uri else "?")
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": client_id,
                    "redirect_uri": redirect_uri,
                    "scope": SCOPE_READ_WRITE,
                    "state": state,
                    "code_challenge": challenge.rstrip(b"=").decode(),
                    "code_challenge_method": "S256",
                    "access_type": "offline",
                    "prompt": "consent",
                }
            )
        )
        print(
            "To let shoal use Google Cloud Storage as you, open this URL in a browser "
            f"(waiting {timeout:.0f} s for the redirect to {redirect_uri}):\n\n    {url}\n",
            file=sys.stderr,
            flush=True,
        )
        if _browser_available():
            opener = loop.run_in_executor(None, _open_browser, url)
            opener.add_done_callback(lambda f: f.exception())
        try:
            kind, value = await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            raise CredentialsError(
                f"browser login timed out after {timeout:.0f} s waiting for the redirect to "
                f"{redirect_uri}; open the printed URL in a browser on this machine, or use a "
                "service-account key (creds='key.json') where no browser is available"
            ) from None
    finally:
        await runner.cleanup()
    if kind == "error":
        raise CredentialsError(
            f"browser login was not authorized ({_short(value, 100)}); try creds='browser' "
            "again and accept the consent screen"
        )
    form = {
        "grant_type": "authorization_code",
        "code": value,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
        "code_verifier": verifier,
    }
    token_uri = endpoints.token_uri
    description = f"browser login (OAuth client {client_id})"
    text = await _raw_token_exchange(http, description, token_uri, form)
    body = json.loads(text)
    refresh_token = body.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise CredentialsError(
            f"{token_uri} returned no refresh token for the browser login; try again "
            "(the consent screen must grant offline access)"
        )
    saved = {
        "type": "authorized_user",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
        "token_uri": token_uri,
    }
    cache = token_cache_path()
    try:
        _write_private_json(cache, saved)
    except OSError as exc:
        log.warning("could not save the Google login to %s (%s)", cache, exc.strerror)
    else:
        log.info("saved the Google login to %s; creds='cache' reuses it", cache)
    user = _AuthorizedUser(saved, f"browser login (saved to {cache})", endpoints)
    auth = GcsAuth(user)
    auth.preload(_parse_token(text, user.description, token_uri))
    return auth


async def _raw_token_exchange(
    http: aiohttp.ClientSession, description: str, url: str, form: Mapping[str, str]
) -> str:
    """The authorization-code exchange: like :func:`_token_call`, but returning the whole
    body (it carries the refresh token). Not retried: a code can be used once."""
    try:
        async with (
            asyncio.timeout(GcsAuth.timeout),
            http.post(url, data=urlencode(form), headers=_FORM) as resp,
        ):
            status, text = resp.status, await resp.text(errors="replace")
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise StorageConnectionError(
            f"cannot reach {url} to finish the browser login: {_reason(exc)}"
        ) from None
    if status != 200:
        try:
            body = json.loads(text)
            detail = ": ".join(
                str(body.get(k)) for k in ("error", "error_description") if body.get(k)
            )
        except (ValueError, AttributeError):
            detail = ""
        raise CredentialsError(
            f"{description} was rejected by {url} (HTTP {status}"
            f"{': ' + _short(detail) if detail else ''}); try creds='browser' again, and check "
            "the OAuth client id and secret"
        )
    _parse_token(text, description, url)  # validates
    return text


# -- resolution ------------------------------------------------------------------------------


async def resolve(
    spec: GcsCredsSpec,
    http: aiohttp.ClientSession,
    *,
    read_only: bool,
    path: str,
    endpoints: GoogleEndpoints | None = None,
    refresh: Refresher | None = None,
) -> GcsAuth:
    """Turn ``spec`` into a :class:`GcsAuth` for ``path``, bound to ``http``. Files are read
    and checked here; network sources (token endpoint, metadata server) are asked on first use,
    except the metadata server, which the default chain probes once.

    With ``refresh`` (for the platform), tokens come from that callable whenever the current
    one nears expiry; a ``gcs_oauth_token`` in ``spec`` is used first."""
    if refresh is not None:
        auth = GcsAuth(_Vended(refresh, f"vended tokens for {path}"))
        if spec.kind == "token" and spec.token:
            left = spec.token_expires_in
            auth.preload(_Issued(spec.token, 3600.0 if left is None else left))
        return auth.bind(http)
    auth = await _resolve(spec, http, read_only=read_only, path=path, endpoints=endpoints)
    return auth.bind(http)


async def _resolve(
    spec: GcsCredsSpec,
    http: aiohttp.ClientSession,
    *,
    read_only: bool,
    path: str,
    endpoints: GoogleEndpoints | None,
) -> GcsAuth:
    ep = endpoints or GoogleEndpoints.from_env()
    scope = SCOPE_READ_ONLY if read_only else SCOPE_READ_WRITE
    if spec.kind == "anon":
        return GcsAuth(None, "anonymous access (creds='anon')")
    if spec.kind == "token":
        assert spec.token is not None
        return GcsAuth(_StaticToken(spec.token, spec.token_expires_in))
    if spec.kind == "file":
        assert spec.path is not None
        origin = f"key file {spec.path}"
        info = _read_json(Path(spec.path), origin, _KEY_FILE_HINT)
        return GcsAuth(_source_from_info(info, origin, scope, ep))
    if spec.kind == "info":
        assert spec.info is not None
        return GcsAuth(_source_from_info(spec.info, "creds dict", scope, ep))
    if spec.kind == "cache":
        return GcsAuth(_load_cached_login(ep))
    if spec.kind == "browser":
        return await _browser_login(spec, http, ep)
    return await _default_chain(spec, http, scope, ep, path)


#: metadata host -> (until, why): a host that did not answer is not probed again for a minute
_GCE_ABSENT: dict[str, tuple[float, str]] = {}


async def _default_chain(
    spec: GcsCredsSpec,
    http: aiohttp.ClientSession,
    scope: str,
    ep: GoogleEndpoints,
    path: str,
) -> GcsAuth:
    gac = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if gac:
        origin = f"GOOGLE_APPLICATION_CREDENTIALS={gac}"
        info = _read_json(Path(gac).expanduser(), origin, "fix or unset the variable")
        return GcsAuth(_source_from_info(info, origin, scope, ep))
    adc = _gcloud_adc_path()
    if adc.is_file():
        origin = f"gcloud application-default credentials {adc}"
        redo = "run `gcloud auth application-default login` again"
        info = _read_json(adc, origin, redo)
        return GcsAuth(_source_from_info(info, origin, scope, ep))
    gce = _GceMetadata(ep.metadata_host)
    probe_timeout = _env_float("GCE_METADATA_TIMEOUT", 3.0)
    absent = _GCE_ABSENT.get(ep.metadata_host)
    try:
        if absent is not None and absent[0] > time.monotonic():
            raise StorageConnectionError(absent[1])  # probed a moment ago: not on GCE
        issued = await gce.fetch(http, probe_timeout, attempts=1)
    except StorageConnectionError as exc:
        gce_reason = _short(str(exc), 160)
        _GCE_ABSENT[ep.metadata_host] = (time.monotonic() + 60.0, str(exc))
    except CredentialsError as exc:
        gce_reason = _short(str(exc), 160)
    else:
        auth = GcsAuth(gce)
        auth.preload(issued)
        return auth
    tried = (
        "GOOGLE_APPLICATION_CREDENTIALS is not set, there is no gcloud application-default "
        f"credentials file at {adc}, and no GCE metadata server answered ({gce_reason})"
    )
    if spec.explicit:
        raise CredentialsError(
            f"no Google credentials found for {path} (creds='google_default'): {tried}. Pass "
            "creds='path/to/key.json', run `gcloud auth application-default login`, use "
            "creds='browser', or creds='anon' for a public bucket"
        )
    cache = token_cache_path()
    if cache.is_file():
        return GcsAuth(_load_cached_login(ep, cache))
    log.info("no Google credentials found for %s; using anonymous access", path)
    return GcsAuth(None, f"anonymous access (no creds were given and {tried})")
