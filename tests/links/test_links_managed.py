"""Managed creds keys for links, on a SeaweedFS whose org bucket only the org's keys (or the
org's role, assumed through STS) reach: the platform vends read-only credentials per bucket,
members read, a reader cannot add keys, outsiders and unknown keys are refused, and no secret
shows up in files, reprs, logs or messages."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal.errors import PlatformNotFoundError, ReadOnlyError
from tests.platform.org_store import ORG, ORG2, ORG_BUCKET, ORG_ROLE, PLATFORM, OrgStore, org_store
from tests.platform.test_creds_vending_managed import Org, make_org
from tests.servers.platform_fixtures import StartPlatform

from .conftest import Images

__all__ = ["org_store"]
NAMES = ["img0.jpg", "img1.png", "img2.jpg"]
SECRETS = (ORG.secret_key, ORG2.secret_key, PLATFORM.secret_key)


@pytest.fixture
def org(
    start_platform: StartPlatform,
    org_store: OrgStore,
    client_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Org]:
    p = start_platform(role_creds=org_store.keys(PLATFORM), creds_ttl=60, scrypt_n=1024)
    monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
    o = make_org(p)
    o.add_key("role", "aws-role", {"role_arn": ORG_ROLE, "endpoint_url": org_store.endpoint})
    yield o


def _upload(org_store: OrgStore, images: Images) -> str:
    prefix = f"files/{uuid.uuid4().hex[:8]}"
    s3 = org_store.client(org_store.keys(ORG))
    for n in NAMES:
        s3.put_object(Bucket=ORG_BUCKET, Key=f"{prefix}/{n}", Body=images.data(n))
    return f"s3://{ORG_BUCKET}/{prefix}"


def test_managed_key_reads_links_in_the_org_bucket(
    org: Org, org_store: OrgStore, images: Images, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = _upload(org_store, images)
    path = f"hub://{org.name}/linked"
    ds = shoal.empty(path, token=org.writer.token)
    ds.create_tensor("im", htype="link[image]", sample_compression="jpeg")
    ds.add_creds_key("role", managed=True)
    assert ds.get_creds_keys() == ["role"] and ds.get_managed_creds_keys() == ["role"]
    ds.im.extend([shoal.link(f"{url}/{n}", creds_key="role") for n in NAMES])
    for n, a in zip(NAMES, ds.im.numpy(aslist=True), strict=True):
        np.testing.assert_array_equal(a, images.arrays[n])

    # a reader of the org opens it again, gets read-only credentials and reads the files
    r = shoal.load(path, token=org.reader.token)
    assert r.get_managed_creds_keys() == ["role"]
    np.testing.assert_array_equal(r.im[2].numpy(), images.arrays[NAMES[2]])
    assert [len(b["im"]) for b in r.loader(batch_size=2)] == [2, 1]
    with pytest.raises(ReadOnlyError):
        r.add_creds_key("other")
    status, body = org.vend(org.reader, "role", f"s3://{ORG_BUCKET}", mode="r")
    assert status == 200 and body["mode"] == "r"

    # unknown managed keys are refused by the platform, naming the key
    with pytest.raises(PlatformNotFoundError, match="'nokey'"):
        ds.add_creds_key("nokey", managed=True)
    assert ds.get_creds_keys() == ["role"]

    # a missing object in a batch names its sample
    ds.im.append(shoal.link(f"{url}/{NAMES[0]}", creds_key="role"))
    org_store.client(org_store.keys(ORG)).delete_object(
        Bucket=ORG_BUCKET, Key=f"{url.split('/', 3)[3]}/{NAMES[0]}"
    )
    with pytest.raises(shoal.errors.LinkError, match="sample 3: .* does not exist") as err:
        shoal.load(path, token=org.writer.token).im[1:4].numpy(aslist=True)
    seen = [str(err.value), repr(ds), repr(ds._engine.links), caplog.text]
    for secret in SECRETS:
        assert all(secret not in s for s in seen)


def test_unmanaged_dataset_cannot_add_managed_key(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    with pytest.raises(shoal.errors.InvalidCredsError, match="not a hub:// dataset"):
        ds.add_creds_key("k", managed=True)
