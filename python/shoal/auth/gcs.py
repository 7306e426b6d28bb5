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

This module turns ``creds`` into a :class:`GcsAuth` (:func:`resolve`); the pieces live next to
it, one job each: ``gcs_spec`` (checking the argument), ``gcs_tokens`` (token sources, Google's
served by gcloud-aio-auth's ``Token``), ``gcs_refresh`` (the cache that refreshes tokens before
they expire, one refresh in flight), ``gcs_login`` (the browser flow and its saved login),
``gcs_files`` (where credential files are). Secrets (keys, tokens, refresh tokens, client
secrets) never appear in a repr, a log record or an error message: messages name the *source*.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import aiohttp

from .._env import env_float
from ..errors import CredentialsError, StorageConnectionError
from .gcs_files import gcloud_adc_path, read_json, token_cache_path
from .gcs_login import browser_login, load_cached_login
from .gcs_refresh import GcsAuth
from .gcs_spec import (
    DEFAULT_AUTH_URI,
    DEFAULT_METADATA_HOST,
    DEFAULT_TOKEN_URI,
    SCOPE_READ_ONLY,
    SCOPE_READ_WRITE,
    GcsCredsSpec,
    GoogleEndpoints,
)
from .gcs_tokens import (
    KEY_FILE_HINT,
    Issued,
    Refresher,
    StaticToken,
    Vended,
    metadata_server,
    reason,
    short,
    source_from_info,
)

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

# The storage provider words its errors with these.
_short = short
_reason = reason


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
        auth = GcsAuth(Vended(refresh, f"vended tokens for {path}"))
        if spec.kind == "token" and spec.token:
            left = spec.token_expires_in
            auth.preload(Issued(spec.token, 3600.0 if left is None else left))
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
        return GcsAuth(StaticToken(spec.token, spec.token_expires_in))
    if spec.kind == "file":
        assert spec.path is not None
        origin = f"key file {spec.path}"
        info = read_json(Path(spec.path), origin, KEY_FILE_HINT)
        return GcsAuth(source_from_info(info, origin, scope, ep))
    if spec.kind == "info":
        assert spec.info is not None
        return GcsAuth(source_from_info(spec.info, "creds dict", scope, ep))
    if spec.kind == "cache":
        return GcsAuth(load_cached_login(ep))
    if spec.kind == "browser":
        return await browser_login(spec, http, ep)
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
        info = read_json(Path(gac).expanduser(), origin, "fix or unset the variable")
        return GcsAuth(source_from_info(info, origin, scope, ep))
    adc = gcloud_adc_path()
    if adc.is_file():
        origin = f"gcloud application-default credentials {adc}"
        redo = "run `gcloud auth application-default login` again"
        info = read_json(adc, origin, redo)
        return GcsAuth(source_from_info(info, origin, scope, ep))
    gce = metadata_server(ep.metadata_host)
    probe_timeout = env_float("GCE_METADATA_TIMEOUT", 3.0, min=0)
    absent = _GCE_ABSENT.get(ep.metadata_host)
    try:
        if absent is not None and absent[0] > time.monotonic():
            raise StorageConnectionError(absent[1])  # probed a moment ago: not on GCE
        issued = await gce.fetch(http, probe_timeout, attempts=1)
    except StorageConnectionError as exc:
        gce_reason = short(str(exc), 160)
        _GCE_ABSENT[ep.metadata_host] = (time.monotonic() + 60.0, str(exc))
    except CredentialsError as exc:
        gce_reason = short(str(exc), 160)
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
        return GcsAuth(load_cached_login(ep, cache))
    log.info("no Google credentials found for %s; using anonymous access", path)
    return GcsAuth(None, f"anonymous access (no creds were given and {tried})")
