"""pytest fixtures for the gcs:// provider, all on loopback.

``from tests.servers.gcs_fixtures import *`` in a conftest brings them in (``__all__`` lists
exactly the fixtures). One fake-gcs-server behind a bearer-checking proxy and one set of Google
auth stand-ins serve the whole session; ``gcs_env`` makes each test hermetic (no host Google
credentials, config and gcloud dirs in a temp dir, every endpoint pointed at the fakes).

Buckets: ``shoal-test`` (private, read/write for the test service accounts), ``shoal-public``
(anonymous GETs allowed; holds ``hello.txt``), ``shoal-locked`` (private; the ``reader``
service account is limited to ``shoal-test``, so it gets 403 here).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .gcs_emulator import BearerProxy, FakeGcsServer, free_port
from .gcs_google import FakeGoogle, ServiceAccountKey

__all__ = [
    "GcsEnv",
    "GcsTestServer",
    "ServiceAccountFile",
    "fake_google",
    "gcs_closed_port",
    "gcs_env",
    "gcs_loopback_guard",
    "gcs_server",
    "gcs_service_account",
]

BUCKET = "shoal-test"
PUBLIC_BUCKET = "shoal-public"
LOCKED_BUCKET = "shoal-locked"
PUBLIC_OBJECT = ("hello.txt", b"hello, public world")


def _loopback(host: Any) -> bool:
    if host is None:
        return True
    h = host.decode() if isinstance(host, bytes) else str(host)
    return h.startswith("127.") or h in ("::1", "localhost", "")


@pytest.fixture(scope="session", autouse=True)
def gcs_loopback_guard() -> Iterator[None]:
    """In-process code may resolve and connect to loopback only: an accidental
    ``oauth2.googleapis.com`` or ``metadata.google.internal`` fails at once and loudly."""
    saved = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex
    real_gai, real_connect, real_connect_ex = saved

    def gai(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            raise OSError(f"test guard: refused to resolve non-loopback host {host!r}")
        return real_gai(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise OSError(f"test guard: refused to connect to non-loopback {address!r}")

    def connect(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = gai
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex = saved  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def fake_google(gcs_loopback_guard: None) -> Iterator[FakeGoogle]:
    google = FakeGoogle().start()
    yield google
    google.stop()


@dataclass
class GcsTestServer:
    emulator: FakeGcsServer
    proxy: BearerProxy
    google: FakeGoogle
    bucket: str = BUCKET
    public_bucket: str = PUBLIC_BUCKET
    locked_bucket: str = LOCKED_BUCKET

    @property
    def url(self) -> str:
        """The endpoint clients use (the proxy; auth enforced)."""
        return self.proxy.url

    def objects(self, bucket: str, prefix: str = "") -> list[str]:
        """Object names straight from the emulator (no auth), for assertions."""
        import json
        import urllib.parse
        import urllib.request

        q = urllib.parse.urlencode({"prefix": prefix, "maxResults": "1000"})
        with urllib.request.urlopen(f"{self.emulator.url}/storage/v1/b/{bucket}/o?{q}") as r:
            return sorted(i["name"] for i in json.load(r).get("items", []))

    def read(self, bucket: str, name: str) -> bytes:
        import urllib.parse
        import urllib.request

        quoted = urllib.parse.quote(name, safe="")
        url = f"{self.emulator.url}/storage/v1/b/{bucket}/o/{quoted}?alt=media"
        with urllib.request.urlopen(url) as r:
            data: bytes = r.read()
            return data


@pytest.fixture(scope="session")
def gcs_server(fake_google: FakeGoogle) -> Iterator[GcsTestServer]:
    """fake-gcs-server behind the bearer proxy; the proxy's port is chosen first so the
    emulator's links (resumable upload sessions) point back through it."""
    last: Exception | None = None
    for _ in range(3):  # a free port can be taken between choosing and binding it
        port = free_port()
        emulator = FakeGcsServer(external_url=f"http://127.0.0.1:{port}")
        proxy = BearerProxy(
            emulator.url,
            fake_google.principal,
            public_buckets={PUBLIC_BUCKET},
            port=port,
            boundary_of=fake_google.boundary,
        )
        try:
            emulator.start()
            proxy.start()
        except RuntimeError as exc:
            last = exc
            emulator.stop()
            continue
        break
    else:
        raise RuntimeError(f"could not start fake-gcs-server and its proxy: {last}")
    for bucket in (BUCKET, PUBLIC_BUCKET, LOCKED_BUCKET):
        emulator.create_bucket(bucket)
    emulator.put_object(PUBLIC_BUCKET, *PUBLIC_OBJECT)
    yield GcsTestServer(emulator, proxy, fake_google)
    proxy.stop()
    emulator.stop()


@dataclass
class ServiceAccountFile:
    key: ServiceAccountKey
    path: Path

    @property
    def email(self) -> str:
        return self.key.email

    def info(self) -> dict[str, Any]:
        return self.key.info()


@pytest.fixture(scope="session")
def gcs_service_account(
    fake_google: FakeGoogle, tmp_path_factory: pytest.TempPathFactory
) -> ServiceAccountFile:
    """A service account the fake token endpoint knows, its key written to a JSON file."""
    key = fake_google.add_service_account("writer@test-proj.iam.gserviceaccount.com")
    path = key.write(tmp_path_factory.mktemp("gcs-sa") / "writer.json")
    return ServiceAccountFile(key, path)


@pytest.fixture(scope="session")
def gcs_closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


_CLEARED = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "GCE_METADATA_ROOT",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "BROWSER",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@dataclass
class GcsEnv:
    server: GcsTestServer
    google: FakeGoogle
    home: Path
    gcloud_dir: Path

    @property
    def token_cache(self) -> Path:
        return self.home / ".config" / "shoal" / "gcs_token.json"

    @property
    def adc_file(self) -> Path:
        return self.gcloud_dir / "application_default_credentials.json"


@pytest.fixture
def gcs_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    gcs_server: GcsTestServer,
    fake_google: FakeGoogle,
    gcs_closed_port: int,
) -> Iterator[GcsEnv]:
    """A hermetic Google environment: no host credentials, temp HOME / config / gcloud dirs,
    storage, token and consent endpoints on the fakes, the GCE metadata host refusing
    connections (tests that want it point ``GCE_METADATA_HOST`` at ``fake_google``)."""
    import os

    for name in list(os.environ):
        if name in _CLEARED or name.startswith("SHOAL_GCS_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    gcloud = tmp_path / "gcloud"
    home.mkdir()
    gcloud.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud))
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{gcs_closed_port}")
    monkeypatch.setenv("SHOAL_GCS_ENDPOINT_URL", gcs_server.url)
    monkeypatch.setenv("SHOAL_GCS_TOKEN_URI", fake_google.token_uri)
    monkeypatch.setenv("SHOAL_GCS_AUTH_URI", fake_google.auth_uri)
    gcs_server.proxy.reset()
    gcs_server.proxy.grants.clear()
    fake_google.ttl = 3600
    fake_google.gce_enabled = True
    fake_google.grants.clear()
    yield GcsEnv(gcs_server, fake_google, home, gcloud)
    gcs_server.proxy.reset()
