"""The hub:// provider through the conformance suite, against a real ``shoal serve`` on
loopback: a platform whose storage root is a local directory, one on SeaweedFS (S3 with STS:
vended session credentials that live 8 s and are refreshed from the platform), and one on
fake-gcs-server (vended access tokens). Each test gets a fresh dataset; ``read_only_store`` is
one the platform grants read access to only (a member with the 'read' role who did not ask
for read-only), so the refusal comes from the grant, not from the caller's flag."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shoal.errors import ReadOnlyError
from shoal.storage import Storage
from shoal.storage._hub import HubStorage, open_storage
from tests.servers.gcs_fixtures import BUCKET as GCS_BUCKET
from tests.servers.gcs_fixtures import GcsEnv, ServiceAccountFile
from tests.servers.platform_fixtures import Running, StartPlatform, User, run_platform, unique
from tests.servers.s3_fixtures import ROLE_RW, S3Server

from .conformance import StorageConformance


class Org:
    """An organization with an admin (who writes) and a member with the 'read' role."""

    def __init__(self, platform: Running) -> None:
        self.platform = platform
        self.admin: User = platform.user()
        self.reader: User = platform.user()
        self.name = unique("org")
        status, body = platform.call(
            "POST", "/api/organizations", {"name": self.name}, token=self.admin.token
        )
        assert status == 201, body
        status, body = platform.call(
            "PUT",
            f"/api/organizations/{self.name}/members/{self.reader.name}",
            {"role": "read"},
            token=self.admin.token,
        )
        assert status == 200, body

    def entry(self, name: str) -> int:
        """The HTTP status of the platform's entry for ``org/name`` (200: registered)."""
        return self.platform.call(
            "GET", f"/api/org/{self.name}/dataset/{name}", token=self.admin.token
        )[0]


class HubConformance(StorageConformance):
    """The suite, plus what only a hub:// provider does. Subclasses provide ``hub``: a running
    platform with the client pointed at it."""

    @pytest.fixture
    def org(self, hub: Running) -> Org:
        return Org(hub)

    @pytest.fixture
    async def store(self, org: Org) -> AsyncIterator[HubStorage]:
        s = await open_storage(f"{org.name}/{unique('ds')}", token=org.admin.token)
        yield s
        await s.close()

    @pytest.fixture
    async def read_only_store(self, org: Org) -> AsyncIterator[Storage]:
        s = await open_storage(f"{org.name}/{unique('ds')}", token=org.reader.token)
        yield s
        await s.close()

    async def test_the_grant_decides_read_only(self, read_only_store: HubStorage) -> None:
        assert read_only_store.read_only and not read_only_store.grant.writable
        with pytest.raises(ReadOnlyError, match="role 'read' in .*'write' role"):
            await read_only_store.put_many({"a": b"1"})
        with pytest.raises(ReadOnlyError):
            await read_only_store.delete_prefix("")

    async def test_read_only_when_asked(self, org: Org, store: HubStorage) -> None:
        """An admin who asks for read-only gets it, and is told to reopen, not to ask for a
        role they have."""
        await store.put("k", b"v")
        location = f"{org.name}/{store.name}"
        reader = await open_storage(location, read_only=True, token=org.admin.token)
        try:
            assert reader.read_only and reader.grant.role == "admin"
            assert await reader.get("k") == b"v"
            with pytest.raises(ReadOnlyError, match="read_only=False") as info:
                await reader.put("k", b"w")
            assert "'write' role" not in str(info.value)
        finally:
            await reader.close()

    async def test_meta_registers_and_deleting_all_unregisters(
        self, org: Org, store: HubStorage
    ) -> None:
        await store.put("chunks/x", b"data")
        assert org.entry(store.name) == 404  # data alone is not a dataset yet
        await store.put("dataset_meta.json", json.dumps({"tensors": []}).encode())
        assert org.entry(store.name) == 200
        await store.delete_prefix("chunks/")
        assert org.entry(store.name) == 200
        await store.delete_prefix("")
        assert org.entry(store.name) == 404
        assert await store.list() == []


class TestHubLocalRoot(HubConformance):
    @pytest.fixture
    def hub(self, platform: Running) -> Running:
        return platform

    async def test_data_lands_under_the_root(self, hub: Running, store: HubStorage) -> None:
        await store.put("a/b", b"1")
        where = Path(store.storage_url)
        assert where.is_relative_to(hub.config.root)
        assert (where / "a" / "b").read_bytes() == b"1"


@pytest.fixture(scope="module")
def s3_platform(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Running]:
    with run_platform(
        tmp_path_factory,
        storage_root=f"s3://{s3_server.bucket}/{unique('root')}",
        storage_creds=s3_server.creds(),
        sts_role_arn=ROLE_RW,
        creds_ttl=60,  # under STS's 900 s minimum: SeaweedFS's short default applies
    ) as running:
        yield running


class TestHubOnSeaweedFS(HubConformance):
    @pytest.fixture
    def hub(
        self, s3_platform: Running, client_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Running:
        monkeypatch.setenv("SHOAL_PLATFORM_URL", s3_platform.url)
        return s3_platform

    async def test_vended_session_credentials(self, hub: Running, store: HubStorage) -> None:
        assert store.storage_url.startswith(hub.config.root + "/")
        assert store.refresher is not None  # the STS session is renewed through the platform


class TestHubOnGcs(HubConformance):
    @pytest.fixture
    def hub(
        self,
        start_platform: StartPlatform,
        gcs_env: GcsEnv,
        gcs_service_account: ServiceAccountFile,
        client_env: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> Running:
        # Per test: gcs_env forgets the tokens the fake Google issued, a platform's cache too.
        p = start_platform(
            storage_root=f"gcs://{GCS_BUCKET}/{unique('root')}",
            storage_creds={
                "method": str(gcs_service_account.path),
                "endpoint_url": gcs_env.server.url,
            },
            gcs_downscope=False,
            creds_ttl=60,
        )
        monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
        return p

    async def test_vended_token(self, hub: Running, store: HubStorage) -> None:
        assert store.storage_url.startswith(hub.config.root + "/")
        assert store.refresher is not None  # the access token is renewed through the platform
