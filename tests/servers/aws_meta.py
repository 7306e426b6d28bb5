"""Loopback stand-ins for the AWS credential endpoints a cloud machine has.

One ``ThreadingHTTPServer`` on 127.0.0.1 serves

* **IMDSv2** (EC2 instance metadata): ``PUT /latest/api/token`` then
  ``GET /latest/meta-data/iam/security-credentials/[role]`` with the session token; requests
  without a token (IMDSv1) are refused. Point clients at it with
  ``AWS_EC2_METADATA_SERVICE_ENDPOINT=<url>/``.
* **container credentials** (ECS, EKS Pod Identity): ``GET /creds`` checking the
  ``Authorization`` header. Point clients at it with ``AWS_CONTAINER_CREDENTIALS_FULL_URI``.
* **an OIDC issuer** for web identity: ``/.well-known/openid-configuration`` and ``/jwks``
  with the public half of :attr:`FakeAwsMeta.oidc_key`; :meth:`FakeAwsMeta.web_identity_token`
  signs RS256 tokens with it.

The credentials handed out come from :attr:`FakeAwsMeta.vend` (wired to real SeaweedFS STS by
the fixtures), so the store checks them for real. ``calls`` counts requests per endpoint.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

#: vend() -> {"AccessKeyId", "SecretAccessKey", "Token", "Expiration": aware datetime}
Vend = Callable[[], dict[str, Any]]

_CREDS_PREFIX = "/latest/meta-data/iam/security-credentials/"


def _b64u(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeAwsMeta:
    """IMDSv2 + container credentials + OIDC issuer on one loopback port."""

    def __init__(
        self,
        role: str = "shoal-test-role",
        container_auth: str = "container-secret-token",
        audience: str = "shoal-tests",
        kid: str = "k1",
    ) -> None:
        self.role, self.container_auth, self.audience, self.kid = (
            role,
            container_auth,
            audience,
            kid,
        )
        self.oidc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.vend: Vend | None = None
        self.calls: Counter[str] = Counter()
        self._imds_tokens: set[str] = set()
        self._lock = threading.Lock()
        nums = self.oidc_key.public_key().public_numbers()
        self.jwks = {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": kid,
                    "use": "sig",
                    "alg": "RS256",
                    "n": _b64u(nums.n),
                    "e": _b64u(nums.e),
                }
            ]
        }
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: str, ctype: str = "application/json") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                if self.path == "/latest/api/token":
                    outer._count("imds-token")
                    if not self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
                        return self._send(400, "missing ttl", "text/plain")
                    token = secrets.token_urlsafe(24)
                    with outer._lock:
                        outer._imds_tokens.add(token)
                    return self._send(200, token, "text/plain")
                self._send(404, "")

            def do_GET(self) -> None:
                path = self.path
                if path.startswith(_CREDS_PREFIX):
                    with outer._lock:
                        ok = self.headers.get("x-aws-ec2-metadata-token") in outer._imds_tokens
                    if not ok:
                        return self._send(401, "")  # IMDSv2 only
                    rest = path[len(_CREDS_PREFIX) :]
                    if rest == "":
                        return self._send(200, outer.role, "text/plain")
                    if rest != outer.role:
                        return self._send(404, "")
                    outer._count("imds-creds")
                    c = outer._vend()
                    return self._send(
                        200,
                        json.dumps(
                            {
                                "Code": "Success",
                                "LastUpdated": _iso(dt.datetime.now(dt.UTC)),
                                "Type": "AWS-HMAC",
                                "AccessKeyId": c["AccessKeyId"],
                                "SecretAccessKey": c["SecretAccessKey"],
                                "Token": c["Token"],
                                "Expiration": _iso(c["Expiration"]),
                            }
                        ),
                    )
                if path == "/creds":
                    outer._count("container")
                    if self.headers.get("Authorization") != outer.container_auth:
                        return self._send(403, '{"message": "bad authorization token"}')
                    c = outer._vend()
                    return self._send(
                        200,
                        json.dumps(
                            {
                                "AccessKeyId": c["AccessKeyId"],
                                "SecretAccessKey": c["SecretAccessKey"],
                                "Token": c["Token"],
                                "Expiration": _iso(c["Expiration"]),
                                "RoleArn": "arn:aws:iam::000000000000:role/shoal-test",
                            }
                        ),
                    )
                if path == "/.well-known/openid-configuration":
                    return self._send(
                        200, json.dumps({"issuer": outer.url, "jwks_uri": outer.url + "/jwks"})
                    )
                if path in ("/jwks", "/.well-known/jwks.json"):
                    outer._count("jwks")
                    return self._send(200, json.dumps(outer.jwks))
                self._send(404, "")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fake-aws-meta", daemon=True
        )

    def _count(self, what: str) -> None:
        with self._lock:
            self.calls[what] += 1

    def _vend(self) -> dict[str, Any]:
        if self.vend is None:
            raise RuntimeError("FakeAwsMeta.vend is not wired to a credential source")
        return self.vend()

    def web_identity_token(
        self, *, audience: str | None = None, lifetime: int = 600, subject: str = "ci-job"
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": audience or self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self.oidc_key, algorithm="RS256", headers={"kid": self.kid})

    def start(self) -> FakeAwsMeta:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeAwsMeta:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
