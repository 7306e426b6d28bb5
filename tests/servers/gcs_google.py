"""Loopback stand-ins for Google's auth services: the OAuth token endpoint, the consent page of
the installed-app (browser) flow, and the GCE metadata server.

- ``POST /token``:
  - ``jwt-bearer``: the service-account JWT is verified for real (RS256 against the public key
    registered for its ``iss``, ``aud`` = this endpoint, lifetime at most 1 h);
  - ``refresh_token``: client id, client secret and refresh token must match a registered
    user, and the token must not be revoked;
  - ``authorization_code``: the code must come from ``/auth`` for the same client and
    redirect URI, the PKCE verifier must match, and the client secret (form or HTTP Basic)
    must be right.
- ``GET /auth``: the consent page. Known clients are redirected straight back to the
  ``redirect_uri`` with a code (or ``error=access_denied`` for clients set to deny); unknown
  clients get an error page and no redirect, as Google does.
- ``GET /computeMetadata/v1/...``: GCE metadata (requires ``Metadata-Flavor: Google``).
- ``POST /v1/token``: Google STS token exchange with a Credential Access Boundary: a live
  token becomes one limited to a bucket, an object-name prefix (from the boundary's
  ``startsWith`` condition) and read-only for ``objectViewer``; :meth:`FakeGoogle.boundary`
  tells the bearer proxy, which enforces it.

Access tokens live ``ttl`` seconds; :meth:`FakeGoogle.principal` tells who a live token
belongs to (the bearer proxy uses it). ``grants`` records every grant type served.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .gcs_emulator import BgApp

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class IssuedToken:
    principal: str
    scope: str
    expires_at: float


@dataclass
class ServiceAccountKey:
    """A generated RSA key and the service-account JSON that carries it."""

    email: str
    key: rsa.RSAPrivateKey
    token_uri: str
    project_id: str = "test-proj"
    key_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @classmethod
    def generate(cls, email: str, token_uri: str) -> ServiceAccountKey:
        return cls(email, rsa.generate_private_key(public_exponent=65537, key_size=2048), token_uri)

    @property
    def pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def info(self) -> dict[str, Any]:
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.key_id,
            "private_key": self.pem,
            "client_email": self.email,
            "client_id": "1234567890",
            "token_uri": self.token_uri,
        }

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.info()))
        return path


@dataclass(frozen=True)
class Boundary:
    """What a downscoped token may touch: one bucket, names under ``prefix``, writes or not."""

    bucket: str
    prefix: str  # "" (the whole bucket) or ending in "/"
    write: bool


class FakeGoogle:
    def __init__(self, ttl: float = 3600, port: int = 0) -> None:
        self.ttl = ttl
        self.service_accounts: dict[str, rsa.RSAPublicKey] = {}
        self.clients: dict[str, str] = {}  # OAuth client id -> secret
        self.deny_clients: set[str] = set()
        self.refresh_tokens: dict[str, tuple[str, str, str]] = {}  # rt -> (cid, secret, user)
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.grants: list[str] = []
        self.gce_enabled = True
        #: principal -> service accounts it may impersonate (iamcredentials generateAccessToken)
        self.impersonation: dict[str, set[str]] = {}
        self.gce_principal = "gce-default@test-proj.iam.gserviceaccount.com"
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_get("/auth", self._auth)
        app.router.add_get(
            "/computeMetadata/v1/instance/service-accounts/default/token", self._gce_token
        )
        app.router.add_get("/computeMetadata/v1/project/project-id", self._gce_project)
        app.router.add_post("/v1/projects/-/serviceAccounts/{target}", self._impersonate)
        app.router.add_post("/v1/token", self._sts)
        self.boundaries: dict[str, Boundary] = {}
        self._bg = BgApp(app, port)
        self.url = ""

    # -- lifecycle and setup --------------------------------------------------------------------
    def start(self) -> FakeGoogle:
        self._bg.start()
        self.url = self._bg.url
        return self

    def stop(self) -> None:
        self._bg.stop()

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def auth_uri(self) -> str:
        return f"{self.url}/auth"

    @property
    def metadata_host(self) -> str:
        return f"127.0.0.1:{self._bg.port}"

    def add_service_account(self, email: str) -> ServiceAccountKey:
        sa = ServiceAccountKey.generate(email, self.token_uri)
        self.service_accounts[email] = sa.key.public_key()
        return sa

    def add_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = client_secret

    def add_user(self, client_id: str, client_secret: str, user: str) -> str:
        """Register a user login; return its refresh token."""
        self.add_client(client_id, client_secret)
        rt = "1//fake-refresh-" + secrets.token_urlsafe(12)
        self.refresh_tokens[rt] = (client_id, client_secret, user)
        return rt

    def revoke_refresh_token(self, rt: str) -> None:
        self.refresh_tokens.pop(rt, None)

    def revoke_access_tokens(self) -> None:
        self.tokens.clear()

    def principal(self, token: str) -> str | None:
        t = self.tokens.get(token)
        return t.principal if t is not None and t.expires_at > time.time() else None

    def scope_of(self, token: str) -> str | None:
        t = self.tokens.get(token)
        return t.scope if t is not None else None

    def boundary(self, token: str) -> Boundary | None:
        return self.boundaries.get(token)

    # -- handlers -------------------------------------------------------------------------------
    async def _sts(self, req: web.Request) -> web.Response:
        """Token exchange with one access-boundary rule, as the platform asks for it."""
        form = await req.post()
        subject = str(form.get("subject_token", ""))
        principal = self.principal(subject)
        if principal is None:
            return self._error("invalid_grant", "The subject token is invalid or expired.")
        try:
            rules = json.loads(str(form.get("options", "")))["accessBoundary"][
                "accessBoundaryRules"
            ]
            (rule,) = rules
            bucket = rule["availableResource"].rsplit("/buckets/", 1)[1]
            (role,) = rule["availablePermissions"]
        except (ValueError, KeyError, TypeError, IndexError):
            return self._error("invalid_request", "malformed access boundary")
        expression = rule.get("availabilityCondition", {}).get("expression", "")
        m = re.search(r"/objects/([^']*)'", expression)
        prefix = m.group(1) if m else ""
        tok = "ya29.downscoped-" + secrets.token_urlsafe(24)
        self.tokens[tok] = IssuedToken(principal, "downscoped", time.time() + self.ttl)
        self.boundaries[tok] = Boundary(bucket, prefix, role.endswith("objectAdmin"))
        return web.json_response(
            {
                "access_token": tok,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": int(self.ttl),
            }
        )

    def _issue(self, principal: str, scope: str, refresh: str | None = None) -> web.Response:
        tok = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens[tok] = IssuedToken(principal, scope, time.time() + self.ttl)
        body: dict[str, Any] = {
            "access_token": tok,
            "expires_in": self.ttl,
            "token_type": "Bearer",
            "scope": scope,
        }
        if refresh:
            body["refresh_token"] = refresh
        return web.json_response(body)

    @staticmethod
    def _error(error: str, description: str, status: int = 400) -> web.Response:
        return web.json_response({"error": error, "error_description": description}, status=status)

    async def _token(self, req: web.Request) -> web.Response:
        form = await req.post()
        grant = str(form.get("grant_type", ""))
        self.grants.append(grant)
        if grant == JWT_GRANT:
            return self._jwt_bearer(str(form.get("assertion", "")))
        if grant == "refresh_token":
            user = self.refresh_tokens.get(str(form.get("refresh_token", "")))
            if user is None:
                return self._error("invalid_grant", "Token has been expired or revoked.")
            if (user[0], user[1]) != (form.get("client_id"), form.get("client_secret")):
                return self._error("invalid_client", "Unauthorized", 401)
            return self._issue(user[2], str(form.get("scope", "")))
        if grant == "authorization_code":
            return self._code_exchange(req, form)
        return self._error("unsupported_grant_type", f"Invalid grant_type: {grant}")

    def _jwt_bearer(self, assertion: str) -> web.Response:
        try:
            iss = jwt.decode(assertion, options={"verify_signature": False})["iss"]
        except Exception as exc:
            return self._error("invalid_grant", f"malformed assertion ({type(exc).__name__})")
        public = self.service_accounts.get(iss)
        if public is None:
            return self._error("invalid_grant", "Invalid grant: account not found")
        try:
            claims = jwt.decode(
                assertion,
                public,
                algorithms=["RS256"],
                audience=self.token_uri,
                options={"require": ["iss", "aud", "exp", "iat"]},
                leeway=30,
            )
        except jwt.InvalidSignatureError:
            return self._error("invalid_grant", "Invalid JWT Signature.")
        except jwt.PyJWTError as exc:
            return self._error("invalid_grant", f"Invalid JWT: {type(exc).__name__}")
        if claims["exp"] - claims["iat"] > 3600:
            return self._error("invalid_grant", "Invalid JWT: lifetime over 1 h")
        return self._issue(iss, str(claims.get("scope", "")))

    def _code_exchange(self, req: web.Request, form: Any) -> web.Response:
        cid, secret = form.get("client_id"), form.get("client_secret")
        auth = req.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        code = self.codes.pop(str(form.get("code", "")), None)
        if code is None:
            return self._error("invalid_grant", "Malformed auth code.")
        if self.clients.get(str(cid)) != secret or cid != code["client_id"]:
            return self._error("invalid_client", "Unauthorized", 401)
        if code["redirect_uri"] != form.get("redirect_uri"):
            return self._error("redirect_uri_mismatch", "Bad Request")
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != code["challenge"]:
            return self._error("invalid_grant", "Invalid code verifier.")
        rt = "1//fake-refresh-" + secrets.token_urlsafe(12)
        self.refresh_tokens[rt] = (str(cid), str(secret), f"user-of-{cid}")
        return self._issue(f"user-of-{cid}", code["scope"], refresh=rt)

    async def _auth(self, req: web.Request) -> web.Response:
        q = req.query
        cid, redirect = q.get("client_id", ""), q.get("redirect_uri", "")
        if cid not in self.clients or not redirect.startswith("http://127.0.0.1:"):
            return web.Response(status=400, text="Error 401: invalid_client")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.Response(status=400, text="Error 400: PKCE required")
        sep = "&" if "?" in redirect else "?"
        if cid in self.deny_clients:
            params = {"error": "access_denied", "state": q.get("state", "")}
            raise web.HTTPFound(redirect + sep + urllib.parse.urlencode(params))
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "redirect_uri": redirect,
            "client_id": cid,
            "scope": q.get("scope", ""),
            "challenge": q["code_challenge"],
        }
        params = {"code": code, "state": q.get("state", "")}
        raise web.HTTPFound(redirect + sep + urllib.parse.urlencode(params))

    def impersonation_url(self, target: str) -> str:
        return f"{self.url}/v1/projects/-/serviceAccounts/{target}:generateAccessToken"

    async def _impersonate(self, req: web.Request) -> web.Response:
        target, _, verb = req.match_info["target"].partition(":")
        header = req.headers.get("Authorization", "")
        caller = self.principal(header[7:]) if header.startswith("Bearer ") else None
        if verb != "generateAccessToken":
            return web.json_response({"error": {"code": 404, "message": "Not found"}}, status=404)
        if caller is None:
            return web.json_response({"error": {"code": 401, "message": "unauthenticated"}}, 401)
        if target not in self.impersonation.get(caller, set()):
            msg = f"Permission 'iam.serviceAccounts.getAccessToken' denied on {target}"
            return web.json_response({"error": {"code": 403, "message": msg}}, status=403)
        body = await req.json()
        self.grants.append("impersonate")
        tok = "ya29.fake-imp-" + secrets.token_urlsafe(24)
        scope = " ".join(body.get("scope") or [])
        self.tokens[tok] = IssuedToken(target, scope, time.time() + self.ttl)
        expire = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.ttl))
        return web.json_response({"accessToken": tok, "expireTime": expire})

    async def _gce_token(self, req: web.Request) -> web.Response:
        if req.headers.get("Metadata-Flavor") != "Google":
            return web.Response(status=403, text="Missing Metadata-Flavor:Google header.")
        if not self.gce_enabled:
            return web.Response(status=404, text="service account not found")
        self.grants.append("gce")
        return self._issue(self.gce_principal, "https://www.googleapis.com/auth/cloud-platform")

    async def _gce_project(self, req: web.Request) -> web.Response:
        if req.headers.get("Metadata-Flavor") != "Google":
            return web.Response(status=403)
        return web.Response(text="test-proj")
