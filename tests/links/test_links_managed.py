"""Managed creds keys for links, on a SeaweedFS whose org bucket only the org's keys (or the
org's role, assumed through STS) reach: the platform vends read-only credentials per bucket,
members read, a reader cannot add keys, outsiders and unknown keys are refused, and no secret
shows up in files, reprs, logs or messages."""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal.cli import main as shoal_cli
from shoal.errors import PlatformNotFoundError, ReadOnlyError
from shoal.links import resolve
from tests.platform.org_store import ORG, ORG2, ORG_BUCKET, PLATFORM, OrgStore, org_store
from tests.platform.orgs import Org, make_org, role_org
from tests.servers.gcs_fixtures import BUCKET, GcsEnv, ServiceAccountFile
from tests.servers.platform_fixtures import StartPlatform

from .conftest import Images

__all__ = ["org_store", "role_org"]
NAMES = ["img0.jpg", "img1.png", "img2.jpg"]
SECRETS = (ORG.secret_key, ORG2.secret_key, PLATFORM.secret_key)


@pytest.fixture
def org(role_org: Org) -> Org:
    return role_org


def _upload(org_store: OrgStore, images: Images) -> str:
    prefix = f"files/{uuid.uuid4().hex[:8]}"
    s3 = org_store.client(org_store.keys(ORG))
    for n in NAMES:
        s3.put_object(Bucket=ORG_BUCKET, Key=f"{prefix}/{n}", Body=images.data(n))
    return f"s3://{ORG_BUCKET}/{prefix}"


def test_managed_key_reads_links_in_the_org_bucket(
    org: Org,
    org_store: OrgStore,
    images: Images,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
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
    monkeypatch.setenv("SHOAL_TOKEN", org.admin.token)
    assert shoal_cli(["creds", "show", "role", "--org", org.name]) == 0
    out = capsys.readouterr()
    seen = [str(err.value), repr(ds), repr(ds._engine.links), caplog.text, out.out, out.err]
    # the platform's database and the dataset's files (linked_creds.json, chunks, ...)
    files = [f for f in Path(org.p.config.data_dir).rglob("*") if f.is_file()]
    assert any(f.name == "linked_creds.json" for f in files)
    seen += [f.read_bytes().decode("latin-1") for f in files]
    assert "role" in "".join(seen)  # the search looked at real output
    for secret in SECRETS:
        assert all(secret not in s for s in seen)


def test_unmanaged_dataset_cannot_add_managed_key(tmp_path: Path) -> None:
    ds = shoal.empty(str(tmp_path / "ds"))
    with pytest.raises(shoal.errors.InvalidCredsError, match="not a hub:// dataset"):
        ds.add_creds_key("k", managed=True)


def test_rotated_key_takes_effect_on_the_next_vend(
    start_platform: StartPlatform,
    org_store: OrgStore,
    client_env: Path,
    images: Images,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = start_platform(role_creds=org_store.keys(PLATFORM), creds_ttl=60, scrypt_n=1024)
    monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
    o = make_org(p)
    o.add_key("static", "aws-keys", org_store.keys(ORG), allow_static=True)
    # vended credentials count as expiring half a second after they were handed out
    monkeypatch.setattr(resolve, "REVEND_MARGIN", 59.5)
    url = _upload(org_store, images)
    ds = shoal.empty(f"hub://{o.name}/rot", token=o.writer.token)
    ds.create_tensor("im", htype="link[image]")
    ds.add_creds_key("static", managed=True)
    ds.im.extend([shoal.link(f"{url}/{n}", creds_key="static") for n in NAMES[:2]])

    def rotate(who: dict[str, str]) -> None:
        status, body = p.call(
            "PUT", f"/api/org/{o.name}/creds/static", {"secret": who}, token=o.admin.token
        )
        assert status == 200, body
        time.sleep(0.6)

    rotate(org_store.keys(PLATFORM))  # keys that cannot reach the org bucket
    with pytest.raises(
        shoal.errors.LinkError, match="sample 1: .*refused access with creds key 'static'"
    ) as err:
        ds.im[1].numpy()
    assert all(s not in str(err.value) for s in SECRETS)
    rotate(org_store.keys(ORG2))  # the same dataset object reads again: nothing reopened
    np.testing.assert_array_equal(ds.im[1].numpy(), images.arrays[NAMES[1]])

    # once the key is gone from the platform, its credentials cannot be had any more
    status, _ = p.call("DELETE", f"/api/org/{o.name}/creds/static", token=o.admin.token)
    assert status in (200, 204)
    time.sleep(0.6)
    with pytest.raises(
        shoal.errors.LinkError,
        match="sample 0: .*could not get credentials for creds key 'static' from the platform",
    ) as err:
        ds.im[0].numpy()
    assert err.value.index == 0 and all(s not in str(err.value) for s in SECRETS)


def test_gcs_links_with_a_managed_service_account_key(
    start_platform: StartPlatform,
    gcs_env: GcsEnv,
    gcs_service_account: ServiceAccountFile,
    client_env: Path,
    images: Images,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fake-gcs-server (behind a proxy that checks bearer tokens) has no Google STS: the
    platform vends the account's own access tokens, unscoped, and says so."""
    p = start_platform(gcs_downscope=False, creds_ttl=60, scrypt_n=1024)
    monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
    o = make_org(p)
    key = json.loads(gcs_service_account.path.read_text())
    o.add_key("gkey", "gcs-key", {**key, "endpoint_url": gcs_env.server.url})
    prefix = f"links-{uuid.uuid4().hex[:8]}"
    for n in NAMES:
        gcs_env.server.emulator.put_object(BUCKET, f"{prefix}/{n}", images.data(n))
    ds = shoal.empty(f"hub://{o.name}/g", token=o.writer.token)
    ds.create_tensor("im", htype="link[image]")
    ds.add_creds_key("gkey", managed=True)
    ds.im.extend([shoal.link(f"gcs://{BUCKET}/{prefix}/{n}", creds_key="gkey") for n in NAMES])
    r = shoal.load(f"hub://{o.name}/g", token=o.reader.token)
    for n, a in zip(NAMES, r.im.numpy(aslist=True), strict=True):
        np.testing.assert_array_equal(a, images.arrays[n])
    with pytest.raises(shoal.errors.LinkError, match="sample 0: .*nope.png.* does not exist"):
        ds.im.append(shoal.link(f"gcs://{BUCKET}/{prefix}/nope.png", creds_key="gkey"))
    # a gcs key for an s3 link: refused, naming the key
    with pytest.raises(shoal.errors.LinkError, match="'gkey'"):
        ds.im.append(shoal.link(f"s3://bucket/{prefix}/x.png", creds_key="gkey"))
    status, body = o.vend(o.reader, "gkey", f"gcs://{BUCKET}", mode="r")
    assert status == 200 and body["mode"] == "r" and body["scoped"] is False


def test_default_storage_cli(
    org: Org,
    org_store: OrgStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    where = f"s3://{ORG_BUCKET}/{org.name}/default"
    monkeypatch.setenv("SHOAL_TOKEN", org.reader.token)
    assert shoal_cli(["storage", "set", where, "--creds-key", "role", "--org", org.name]) != 0
    monkeypatch.setenv("SHOAL_TOKEN", org.admin.token)
    assert shoal_cli(["storage", "set", where, "--creds-key", "role", "--org", org.name]) == 0
    assert shoal_cli(["storage", "show", "--org", org.name]) == 0
    out = capsys.readouterr().out
    assert f"{where}  (creds key 'role'" in out
    ds = shoal.empty(f"hub://{org.name}/fresh", token=org.writer.token)
    ds.create_tensor("x", dtype="int32")
    ds.x.append(np.arange(3, dtype=np.int32))
    listed = org_store.client(org_store.keys(ORG)).list_objects_v2(
        Bucket=ORG_BUCKET, Prefix=f"{org.name}/default/"
    )
    assert any(o["Key"].endswith("dataset_meta.json") for o in listed.get("Contents", []))
    assert shoal_cli(["storage", "unset", "--org", org.name]) == 0
    assert shoal_cli(["storage", "show", "--org", org.name]) == 0
    assert "has no default storage" in capsys.readouterr().out
