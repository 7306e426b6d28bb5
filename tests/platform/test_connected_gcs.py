"""A gcs-key creds key (a service account) on fake-gcs-server behind a bearer-checking proxy:
the platform vends the account's access tokens, and a gcs:// dataset opens with
creds={"creds_key": ...} and as a connected hub:// dataset. The emulator has no Google STS,
so downscoping is off here and the answers say the tokens are not scoped."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

import shoal
from shoal.errors import PlatformError
from tests.servers.gcs_fixtures import BUCKET, GcsEnv, ServiceAccountFile

from .conftest import StartPlatform, unique
from .orgs import Org, make_org


@pytest.fixture
def org(
    start_platform: StartPlatform,
    gcs_env: GcsEnv,
    gcs_service_account: ServiceAccountFile,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Org]:
    p = start_platform(gcs_downscope=False, creds_ttl=60, scrypt_n=1024)
    monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
    o = make_org(p)
    key = json.loads(gcs_service_account.path.read_text())
    o.add_key("gkey", "gcs-key", {**key, "endpoint_url": gcs_env.server.url})
    yield o


def test_gcs_key_vends_and_connects(org: Org, gcs_env: GcsEnv) -> None:
    src = f"gcs://{BUCKET}/{unique('managed')}"
    status, body = org.vend(org.writer, "gkey", src)
    assert status == 200, body
    assert body["creds"]["gcs_oauth_token"] and body["scoped"] is False
    assert body["creds"]["endpoint_url"] == gcs_env.server.url

    ds = shoal.empty(src, creds={"creds_key": "gkey"}, org_id=org.name, token=org.writer.token)
    ds.create_tensor("x", htype="generic", dtype="int16")
    ds.x.extend(np.arange(6, dtype=np.int16).reshape(2, 3))
    hub = shoal.connect(src, "gkey", org_id=org.name, token=org.writer.token)
    np.testing.assert_array_equal(hub.x.numpy(), np.arange(6).reshape(2, 3))
    assert len(shoal.load(hub.path, token=org.reader.token).x) == 2
    # an AWS URL with a GCS key: the error names the key
    with pytest.raises(PlatformError, match="'gkey'"):
        shoal.connect("s3://bucket/x", "gkey", org_id=org.name, token=org.writer.token)
