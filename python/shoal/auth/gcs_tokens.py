"""Where Google access tokens come from: one :class:`TokenSource` per kind of credentials.

Every Google credential type (service-account keys, ``authorized_user`` logins, workload
identity federation, impersonation, and the GCE metadata server) is served by gcloud-aio-auth's
``Token``: only its ``refresh`` (one token request) is used, since caching and refreshing before
expiry are :class:`~shoal.auth.gcs_refresh.GcsAuth`'s job. What shoal adds around it: the
endpoints are aimed where shoal's settings say (the key's ``token_uri`` is filled in from
``SHOAL_GCS_TOKEN_URI`` when absent; the metadata URL is set per token from
``GCE_METADATA_HOST`` read at resolve time, because gcloud-aio-auth reads it once at import),
a few retries on throttling and dropped connections, and errors that name the credentials'
*source* and what to do, never a secret.

Pre-issued tokens (``gcs_oauth_token``) and tokens vended by a callable (the platform) are
sources too.
"""

from __future__ import annotations

import abc
import asyncio
import io
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import aiohttp
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gcloud.aio.auth import Token

from .._retry import NO_RETRY, RetryPolicy, Verdict
from .._secrets import remember_secret, scrub, shorten
from ..errors import CredentialsError, StorageConnectionError
from .gcs_spec import GoogleEndpoints, token_lifetime

__all__ = [
    "KEY_FILE_HINT",
    "GoogleToken",
    "Issued",
    "Refresher",
    "StaticToken",
    "TokenSource",
    "Vended",
    "metadata_server",
    "reason",
    "short",
    "source_from_info",
]

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TOKEN_ATTEMPTS = 3
#: A token request is retried quickly: callers (or a background refresh) wait for it.
_RETRIES = RetryPolicy(max_attempts=_TOKEN_ATTEMPTS, backoff_base=0.2, backoff_max=2.0)
KEY_FILE_HINT = (
    "pass the path of a service-account JSON key (Cloud console: IAM > Service accounts > Keys) "
    "or an authorized_user file written by `gcloud auth application-default login`"
)


@dataclass(frozen=True, slots=True)
class Issued:
    value: str = field(repr=False)
    expires_in: float


class TokenSource(abc.ABC):
    """Where access tokens come from. ``description`` names it without any secret."""

    description: str = ""
    refreshable: bool = True
    #: What to tell the user when the source is rejected.
    advice: str = ""

    @abc.abstractmethod
    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> Issued:
        """A fresh access token."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


#: One line, at most ``limit`` characters (a third-party message inside one of ours).
short = shorten


def reason(exc: BaseException) -> str:
    """Why a request failed, in a few words, scrubbed of anything shaped like a secret."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return shorten(str(exc.os_error) or type(exc).__name__)
    return shorten(scrub(str(exc))) or type(exc).__name__


def _classify(exc: BaseException) -> Verdict:
    """Token requests are retried on throttling, server errors and dropped connections; a
    rejection (400, 401, 403, 404) is final."""
    if isinstance(exc, aiohttp.ClientResponseError):
        if exc.status not in _RETRY_STATUS:
            return NO_RETRY
        after = exc.headers.get("Retry-After", "") if exc.headers is not None else ""
        return Verdict(True, throttled=exc.status == 429, retry_after=_seconds(after))
    return Verdict(isinstance(exc, aiohttp.ClientError | TimeoutError | OSError))


def _seconds(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _error_detail(exc: aiohttp.ClientResponseError) -> str:
    """``error: description`` from a rejected token request. gcloud-aio-auth puts
    ``"<reason>: <body>"`` in the message; the body is Google's JSON error."""
    text = scrub(exc.message.partition(": ")[2] if ": " in exc.message else exc.message)
    try:
        body = json.loads(text)
    except ValueError:
        return shorten(text)
    if not isinstance(body, dict):
        return shorten(text)
    err = body.get("error")
    error = str(err.get("message", "")) if isinstance(err, dict) else str(err or "")
    return ": ".join(p for p in (error, shorten(str(body.get("error_description") or ""))) if p)


class GoogleToken(TokenSource):
    """Tokens for one Google credential (a key's JSON, or ``None`` for the metadata server),
    from gcloud-aio-auth's ``Token``."""

    def __init__(
        self,
        info: Mapping[str, Any] | None,
        *,
        scope: str,
        url: str,
        description: str,
        advice: str,
    ) -> None:
        self._info = dict(info) if info is not None else None
        self._scope = scope
        self.url = url  # where the token is asked for (for messages)
        self.description = description
        self.advice = advice
        self._token: Token | None = None
        self._token_http: aiohttp.ClientSession | None = None

    def _token_for(self, http: aiohttp.ClientSession) -> Token:
        if self._token is None or self._token_http is not http:
            # An empty JSON object is gcloud-aio-auth's way of saying "no key: ask the
            # metadata server"; a key is handed over as a file object, never written to disk.
            service = io.StringIO(json.dumps(self._info or {}))
            token = Token(
                service_file=service,
                session=cast(Any, http),  # typed for gcloud-rest's requests.Session too
                scopes=[self._scope],
            )
            if self._info is None:
                token.token_uri = self.url
            self._token, self._token_http = token, http
        return self._token

    async def fetch(
        self, http: aiohttp.ClientSession, timeout: float, attempts: int = _TOKEN_ATTEMPTS
    ) -> Issued:
        token = self._token_for(http)

        async def once() -> Issued:
            async with asyncio.timeout(timeout):
                resp = await token.refresh(timeout=max(1, math.ceil(timeout)))
            return self._issued(resp.value, resp.expires_in)

        policy = replace(_RETRIES, max_attempts=attempts)
        try:
            return await policy.start(_classify).run(once)
        except aiohttp.ClientResponseError as exc:
            raise self._rejected(exc) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise StorageConnectionError(
                f"cannot reach {self.url} to get an access token for {self.description}: "
                f"{reason(exc)}; check the network, or the endpoint override "
                "(SHOAL_GCS_TOKEN_URI, the key file's token_uri, GCE_METADATA_HOST)"
            ) from None
        except (KeyError, ValueError, TypeError) as exc:
            raise CredentialsError(
                f"{self.description} could not be used: the answer from {self.url} held no "
                f"access token ({type(exc).__name__}); {self.advice}"
            ) from None

    def _issued(self, value: object, expires_in: object) -> Issued:
        if not isinstance(value, str) or not value:
            raise CredentialsError(
                f"{self.url} returned an empty access token for {self.description}"
            )
        remember_secret(value)  # scrubbed from any later message or log record
        return Issued(value, float(cast(float, expires_in) or 3600))

    def _rejected(self, exc: aiohttp.ClientResponseError) -> CredentialsError:
        if exc.status < 400:  # a 200 whose body is not JSON (aiohttp's ContentTypeError)
            return CredentialsError(
                f"{self.url} answered the token request for {self.description} without an "
                "access token; check that the endpoint is Google's OAuth token endpoint"
            )
        detail = _error_detail(exc)
        return CredentialsError(
            f"{self.description} was rejected by {self.url} (HTTP {exc.status}"
            f"{': ' + detail if detail else ''}); {self.advice}"
        )


def _service_account(
    info: Mapping[str, Any], origin: str, scope: str, endpoints: GoogleEndpoints
) -> GoogleToken:
    email, pem = info.get("client_email"), info.get("private_key")
    if not isinstance(email, str) or not isinstance(pem, str):
        raise CredentialsError(
            f"{origin} is not a usable service-account key: it lacks 'client_email' or "
            "'private_key'; download a JSON key for the service account from the Cloud "
            "console (IAM > Service accounts > Keys)"
        )
    # Checked here so a broken key is reported when the path is opened, not on first I/O.
    # Parsing is enough for that; the costly RSA consistency check (~70 ms) is left to the
    # signing, which loads the key again.
    try:
        key = serialization.load_pem_private_key(
            pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialsError(
            f"the private_key of service account {email} in {origin} is not a valid PEM "
            "RSA key; download a new JSON key for the service account"
        )
    token_uri = str(info.get("token_uri") or endpoints.token_uri)
    return GoogleToken(
        {**info, "token_uri": token_uri},
        scope=scope,
        url=token_uri,
        description=f"service account {email} ({origin})",
        advice=(
            "check that the key is current (it may have been deleted or rotated: create a new "
            "JSON key for the service account) and that the machine's clock is right"
        ),
    )


def authorized_user(
    info: Mapping[str, Any],
    origin: str,
    endpoints: GoogleEndpoints,
    advice: str = "log in again (`gcloud auth application-default login`, or creds='browser')",
) -> GoogleToken:
    """A refresh-token login (gcloud's application-default file, or shoal's browser login)."""
    fields = {k: info.get(k) for k in ("client_id", "client_secret", "refresh_token")}
    missing = [k for k, v in fields.items() if not isinstance(v, str) or not v]
    if missing:
        raise CredentialsError(
            f"{origin} is an authorized_user file without {', '.join(missing)}; {advice}"
        )
    remember_secret(fields["refresh_token"])
    remember_secret(fields["client_secret"])
    token_uri = str(info.get("token_uri") or endpoints.token_uri)
    return GoogleToken(
        {**info, "token_uri": token_uri},
        scope="",  # a refresh-token grant keeps the scopes of the original consent
        url=token_uri,
        description=origin,
        advice=advice,
    )


def metadata_server(host: str) -> GoogleToken:
    """The GCE (or GKE, Cloud Run) metadata server at ``host`` (``host:port``)."""
    return GoogleToken(
        None,
        scope="",  # the metadata server hands out the scopes of the attached account
        url=f"http://{host}/computeMetadata/v1/instance/service-accounts/default/token",
        description=f"the GCE metadata server ({host})",
        advice=(
            "check that the VM (or pod) has a service account attached with storage scopes, "
            "or pass creds='path/to/key.json'"
        ),
    )


def source_from_info(
    info: Mapping[str, Any], origin: str, scope: str, endpoints: GoogleEndpoints
) -> GoogleToken:
    """The token source for a credential JSON (a key file's content, or a dict)."""
    kind = info.get("type")
    if kind == "service_account":
        return _service_account(info, origin, scope, endpoints)
    if kind == "authorized_user":
        return authorized_user(info, f"user credentials ({origin})", endpoints)
    if kind in ("external_account", "impersonated_service_account"):
        # external_account names its own token_url; token_uri is the impersonation source's.
        token_uri = str(info.get("token_uri") or endpoints.token_uri)
        return GoogleToken(
            {**info, "token_uri": token_uri},
            scope=scope,
            url=str(
                info.get("service_account_impersonation_url") or info.get("token_url") or token_uri
            ),
            description=f"{kind} credentials ({origin})",
            advice="check the credential configuration file and the identities it names",
        )
    raise CredentialsError(
        f"{origin} has type {kind!r}, which shoal cannot use; {KEY_FILE_HINT}"
        if kind is not None
        else f"{origin} has no 'type' field; {KEY_FILE_HINT}"
    )


class StaticToken(TokenSource):
    """A pre-issued access token (``creds={"gcs_oauth_token": ...}``): never refreshed."""

    refreshable = False
    advice = "ask for fresh credentials (the token may have expired or been revoked)"

    def __init__(self, token: str, expires_in: float | None) -> None:
        self._token = token
        self._expires_in = expires_in
        self._created = time.monotonic()
        self.description = "the pre-issued OAuth token in creds['gcs_oauth_token']"

    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> Issued:
        if self._expires_in is None:
            return Issued(self._token, 3600.0)
        left = self._expires_in - (time.monotonic() - self._created)
        if left <= 0:
            raise CredentialsError(
                f"{self.description} has expired; get a fresh token (or use a key file, "
                "which shoal refreshes by itself)"
            )
        return Issued(self._token, left)


#: ``async () -> {"gcs_oauth_token": str, "expires_in": s (or "expiration": Unix time)}``: a
#: source of short-lived tokens (a platform that vends them), refreshed like any other.
Refresher = Callable[[], Awaitable[Mapping[str, Any]]]


class Vended(TokenSource):
    """Tokens from a :data:`Refresher` (what the platform hands out)."""

    advice = "ask the service that vends the tokens for fresh credentials"

    def __init__(self, refresh: Refresher, description: str) -> None:
        self._refresh = refresh
        self.description = description

    async def fetch(self, http: aiohttp.ClientSession, timeout: float) -> Issued:
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
        lifetime = token_lifetime(creds, self.description)
        return Issued(token, 3600.0 if lifetime is None else lifetime)
