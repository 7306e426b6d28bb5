"""Who is using the web app, and that a form was sent by our own page.

* The session is a login token (the same kind ``shoal login`` gets, checked the same way by
  :func:`..common.caller_for_token`) in a cookie that scripts cannot read (``HttpOnly``),
  that other sites' requests do not carry (``SameSite=Lax``; ``Strict`` for the CSRF
  cookie), and that travels only over https when the app is served over https
  (``Secure``). Signing out revokes the token.
* CSRF: every page carries a random cookie; every state-changing form sends
  ``HMAC(server secret, cookie)`` in a hidden field, checked on every POST. Another site can
  make a browser send the cookie (not with SameSite) but can never read it to compute the
  field.

Cookie sessions are honoured by the web app's pages only: the JSON API takes bearer tokens,
so a cookie never authorises an API call another site could make the browser send.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from ..common import ANONYMOUS, ApiError, Caller, Platform, caller_for_token, fail, platform

SESSION_COOKIE = "shoal_session"
CSRF_COOKIE = "shoal_csrf"
CSRF_FIELD = "csrf"

WEB_CALLER = web.RequestKey("shoal_web_caller", Caller)
_NEW_CSRF = web.RequestKey("shoal_new_csrf", str)


def _secure(request: web.Request) -> bool:
    return request.secure or platform(request).config.behind_https_proxy


def origin(request: web.Request) -> str:
    """The origin the browser sees this page at."""
    return f"{'https' if _secure(request) else request.scheme}://{request.host}"


async def load(request: web.Request) -> Caller:
    """The signed-in user of this browser (anonymous without a valid session cookie)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return ANONYMOUS
    try:
        return await caller_for_token(platform(request), token)
    except ApiError:
        return ANONYMOUS  # an expired or revoked session: the user signs in again


def current(request: web.Request) -> Caller:
    who: Caller = request.get(WEB_CALLER, ANONYMOUS)
    return who


def require_user(request: web.Request) -> Caller:
    """The signed-in user; else a redirect to the sign-in page, back here afterwards."""
    who = current(request)
    if who.user is None:
        raise web.HTTPSeeOther(f"/signin?next={_quote(request.path_qs)}")
    return who


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="")


def safe_next(value: str) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or a URL)."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def start(response: web.StreamResponse, request: web.Request, token: str, lifetime: float) -> None:
    """Sign the browser in with a login token."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime),
        path="/",
        httponly=True,
        secure=_secure(request),
        samesite="Lax",
    )


def end(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


# -- CSRF ------------------------------------------------------------------------------------


def _csrf_cookie(request: web.Request) -> str:
    value = request.cookies.get(CSRF_COOKIE) or request.get(_NEW_CSRF)
    if not value:
        value = secrets.token_urlsafe(32)
        request[_NEW_CSRF] = value
    return value


def csrf_token(request: web.Request, p: Platform | None = None) -> str:
    """The hidden form field for this browser."""
    p = p or platform(request)
    key = hashlib.sha256(b"shoal-web-csrf\0" + p.secret).digest()
    return hmac.new(key, _csrf_cookie(request).encode(), hashlib.sha256).hexdigest()


def set_csrf_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Send the CSRF cookie made for this page (if the browser had none)."""
    value = request.get(_NEW_CSRF)
    if value and not response.prepared:
        response.set_cookie(
            CSRF_COOKIE,
            value,
            path="/",
            httponly=True,
            secure=_secure(request),
            samesite="Strict",
        )


async def check_csrf(request: web.Request) -> None:
    """403 unless the form's field matches this browser's CSRF cookie."""
    if not request.cookies.get(CSRF_COOKIE):
        fail(
            403,
            "csrf_failed",
            "this form has expired (or cookies are off); reload the page and send it again",
        )
    form = await request.post()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_token(request)):
        fail(
            403,
            "csrf_failed",
            "this form was not sent from this site's page (or has expired); reload the page "
            "and send it again",
        )
