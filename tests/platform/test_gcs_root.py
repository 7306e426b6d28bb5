"""A platform whose storage root is on GCS (fake-gcs-server behind a bearer-checking proxy,
tokens from a fake Google token endpoint): the platform vends access tokens for its service
account, and the client asks for new ones before they expire.

Downscoping (Credential Access Boundaries through Google STS) is off here: the emulator has no
STS, so these tokens are not limited to the dataset's prefix.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

import shoal
from shoal import _loop
from shoal.storage._hub import HubStorage
from tests.servers.gcs_fixtures import BUCKET, GcsEnv, ServiceAccountFile

from .conftest import Running, StartPlatform, unique


@pytest.fixture
def gcs_platform(
    start_platform: StartPlatform,
    gcs_env: GcsEnv,
    gcs_service_account: ServiceAccountFile,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Running]:
    p = start_platform(
        storage_root=f"gcs://{BUCKET}/{unique('root')}",
        storage_creds={"method": str(gcs_service_account.path), "endpoint_url": gcs_env.server.url},
        gcs_downscope=False,
        creds_ttl=60,
    )
    monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
    yield p


def test_hub_dataset_on_gcs(gcs_platform: Running, gcs_env: GcsEnv) -> None:
    user = gcs_platform.user()
    path = f"hub://{user.name}/on-gcs"
    status, grant = gcs_platform.call(
        "GET", f"/api/org/{user.name}/ds/on-gcs/creds?mode=w", token=user.token
    )
    assert status == 200 and grant["path"].startswith(f"gcs://{BUCKET}/")
    assert (
        grant["creds"]["gcs_oauth_token"] and grant["creds"]["endpoint_url"] == gcs_env.server.url
    )
    ds = shoal.empty(path, token=user.token)
    ds.create_tensor("x", htype="generic", dtype="int16")
    ds.x.extend(np.arange(20, dtype=np.int16).reshape(4, 5))
    got = shoal.load(path, read_only=True, token=user.token).x.numpy()
    np.testing.assert_array_equal(got, np.arange(20, dtype=np.int16).reshape(4, 5))
    shoal.delete(path, token=user.token)
    assert not shoal.exists(path, token=user.token)


def test_gcs_tokens_are_refreshed(gcs_platform: Running, gcs_env: GcsEnv) -> None:
    gcs_env.google.ttl = 3  # the service account's tokens live 3 s
    user = gcs_platform.user()
    path = f"hub://{user.name}/refresh"
    ds = shoal.empty(path, token=user.token)
    ds.create_tensor("x", htype="generic", dtype="int64")
    store = ds._engine.storage
    assert isinstance(store, HubStorage) and store.refresher is not None
    for i in range(5):
        ds.x.append(np.array([i], dtype=np.int64))
        time.sleep(1.0)
    assert _loop.run(store.exists("dataset_meta.json"))
    np.testing.assert_array_equal(ds.x.numpy().ravel(), np.arange(5))
    assert store.refresher.fetches >= 1
