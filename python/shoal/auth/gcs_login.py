"""Signing in to Google as a person: the browser (installed-app) flow and the login it saves.

``creds="browser"``: a redirect server listens on 127.0.0.1, the consent URL is printed (and
opened when a browser can be), the authorization code comes back with PKCE and is exchanged at
the token endpoint, and the refresh token is saved (mode 0600) for ``creds="cache"``.
gcloud-aio-auth has no such flow (it only uses credentials that exist), so it lives here; the
saved login is an ordinary ``authorized_user`` credential, refreshed by gcloud-aio-auth.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import secrets
import stat
import sys
import webbrowser
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from .._env import env_float
from .._files import write_private
from .._secrets import remember_secret, scrub
from ..errors import CredentialsError, StorageConnectionError
from .gcs_files import gcloud_adc_path, read_json, token_cache_path
from .gcs_refresh import GcsAuth
from .gcs_spec import SCOPE_READ_WRITE, GcsCredsSpec, GoogleEndpoints
from .gcs_tokens import GoogleToken, Issued, authorized_user, reason, short

__all__ = ["browser_login", "load_cached_login"]

log = logging.getLogger("shoal.auth.gcs")

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def load_cached_login(endpoints: GoogleEndpoints, path: Path | None = None) -> GoogleToken:
    """The login ``creds="browser"`` saved, as a token source (its file made 0600 if it was not)."""
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
    info = read_json(path, origin, redo)
    return authorized_user(info, origin, endpoints, advice=redo)


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
    adc = gcloud_adc_path()
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


async def browser_login(
    spec: GcsCredsSpec, http: aiohttp.ClientSession, endpoints: GoogleEndpoints
) -> GcsAuth:
    client_id, client_secret = _oauth_client(spec)
    remember_secret(client_secret)
    timeout = spec.browser_timeout or env_float("SHOAL_GCS_BROWSER_TIMEOUT", 300.0, min=0)
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
            f"browser login was not authorized ({short(value, 100)}); try creds='browser' "
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
    body = await _exchange_code(http, description, token_uri, form)
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
        write_private(cache, json.dumps(saved))
    except OSError as exc:
        log.warning("could not save the Google login to %s (%s)", cache, exc.strerror)
    else:
        log.info("saved the Google login to %s; creds='cache' reuses it", cache)
    user = authorized_user(saved, f"browser login (saved to {cache})", endpoints)
    auth = GcsAuth(user)
    auth.preload(_access_token(body, user.description, token_uri))
    return auth


async def _exchange_code(
    http: aiohttp.ClientSession, description: str, url: str, form: Mapping[str, str]
) -> dict[str, Any]:
    """The authorization-code exchange, returning the whole answer (it carries the refresh
    token). Not retried: a code can be used once."""
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
            f"cannot reach {url} to finish the browser login: {reason(exc)}"
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
            f"{': ' + short(scrub(detail)) if detail else ''}); try creds='browser' again, and check "
            "the OAuth client id and secret"
        )
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise CredentialsError(
            f"{url} answered the browser login's code exchange without JSON; check that the "
            "endpoint is Google's OAuth token endpoint (SHOAL_GCS_TOKEN_URI)"
        )
    return body


def _access_token(body: Mapping[str, Any], description: str, url: str) -> Issued:
    value = body.get("access_token")
    if not isinstance(value, str) or not value:
        raise CredentialsError(f"{url} returned no access token for {description}")
    try:
        expires_in = float(body.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600.0
    return Issued(value, expires_in)
