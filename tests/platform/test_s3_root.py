"""A platform whose storage root is on S3 (SeaweedFS on loopback, with STS): vended
credentials are AssumeRole credentials with an inline policy for one dataset's prefix, read-only
for readers, and the client refreshes them before they expire without interrupting work."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import numpy as np
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

import shoal
from shoal import _loop
from shoal.auth.hub_grants import GrantRefresher
from shoal.storage._hub import HubStorage
from tests.servers.s3_fixtures import ROLE_RW, TOKEN_SECONDS, S3Server

from .conftest import Running, StartPlatform, unique


@pytest.fixture
def s3_platform(
    start_platform: StartPlatform, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Running]:
    p = start_platform(
        storage_root=f"s3://{s3_server.bucket}/{unique('root')}",
        storage_creds=s3_server.creds(),
        sts_role_arn=ROLE_RW,
        creds_ttl=60,  # under STS's 900 s minimum: SeaweedFS's short default applies
    )
    monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
    yield p


def s3_client(server: S3Server, creds: dict[str, Any]) -> Any:
    return botocore.session.Session().create_client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        aws_session_token=creds["aws_session_token"],
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def code_of(fn: Any) -> str:
    try:
        fn()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def test_hub_dataset_on_s3(s3_platform: Running, s3_server: S3Server) -> None:
    user = s3_platform.user()
    path = f"hub://{user.name}/on-s3"
    ds = shoal.empty(path, token=user.token)
    ds.create_tensor("x", htype="generic", dtype="float32")
    ds.x.extend(np.ones((4, 8), dtype=np.float32))
    got = shoal.load(path, read_only=True, token=user.token).x.numpy()
    np.testing.assert_array_equal(got, np.ones((4, 8), dtype=np.float32))
    status, info = s3_platform.call("GET", f"/api/org/{user.name}/dataset/on-s3", token=user.token)
    assert status == 200
    assert info["path"] == f"{s3_platform.config.root}/{user.name}/on-s3"
    prefix = info["path"].split("/", 3)[3]
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix + "/")
    assert any(o["Key"].endswith("dataset_meta.json") for o in listed.get("Contents", []))
    shoal.delete(path, token=user.token)
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix + "/")
    assert not listed.get("Contents")


def test_vended_creds_are_scoped_to_the_prefix(s3_platform: Running, s3_server: S3Server) -> None:
    owner, reader = s3_platform.user(), s3_platform.user()
    org = unique("org")
    s3_platform.call("POST", "/api/organizations", {"name": org}, token=owner.token)
    s3_platform.call(
        "PUT",
        f"/api/organizations/{org}/members/{reader.name}",
        {"role": "read"},
        token=owner.token,
    )
    root = s3_platform.config.root.split("/", 3)[3]
    bucket = s3_server.bucket
    status, grant = s3_platform.call("GET", f"/api/org/{org}/ds/a/creds?mode=w", token=owner.token)
    assert status == 200 and grant["mode"] == "a"
    creds = grant["creds"]
    assert creds["aws_session_token"] and creds["expiration"] == grant["expiration"]
    assert creds["endpoint_url"] == s3_server.endpoint
    s3 = s3_client(s3_server, creds)
    mine, other_ds, other_org = f"{root}/{org}/a/k", f"{root}/{org}/b/k", f"{root}/{owner.name}/a/k"
    assert code_of(lambda: s3.put_object(Bucket=bucket, Key=mine, Body=b"1")) == "ok"
    assert code_of(lambda: s3.put_object(Bucket=bucket, Key=other_ds, Body=b"1")) == "AccessDenied"
    assert code_of(lambda: s3.put_object(Bucket=bucket, Key=other_org, Body=b"1")) == "AccessDenied"
    assert code_of(lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"{root}/")) == "AccessDenied"
    assert code_of(lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"{root}/{org}/a/")) == "ok"
    # A reader's credentials read, and nothing else.
    status, grant = s3_platform.call("GET", f"/api/org/{org}/ds/a/creds?mode=w", token=reader.token)
    assert grant["mode"] == "r"
    r = s3_client(s3_server, grant["creds"])
    assert code_of(lambda: r.get_object(Bucket=bucket, Key=mine)) == "ok"
    assert code_of(lambda: r.put_object(Bucket=bucket, Key=mine, Body=b"2")) == "AccessDenied"
    assert code_of(lambda: r.delete_object(Bucket=bucket, Key=mine)) == "AccessDenied"


def test_creds_refresh_during_long_work(s3_platform: Running) -> None:
    """Credentials live TOKEN_SECONDS (8 s); appending and reading for longer never fails,
    and the client fetched new ones from the platform on the way."""
    user = s3_platform.user()
    path = f"hub://{user.name}/long"
    ds = shoal.empty(path, token=user.token)
    ds.create_tensor("x", htype="generic", dtype="int64")
    store = ds._engine.storage
    assert isinstance(store, HubStorage) and store.refresher is not None
    reader = shoal.load(path, read_only=True, token=user.token)._engine.storage
    assert isinstance(reader, HubStorage) and reader.refresher is not None
    deadline = time.monotonic() + TOKEN_SECONDS * 1.3
    n = 0
    while time.monotonic() < deadline:
        ds.x.append(np.array([n], dtype=np.int64))
        n += 1
        assert int(shoal.load(path, read_only=True, token=user.token).x[n - 1].numpy()[0]) == n - 1
        time.sleep(0.4)
    np.testing.assert_array_equal(ds.x.numpy().ravel(), np.arange(n))
    assert store.refresher.fetches >= 1
    # A reader opened at the start, idle since, still reads: its credentials are refreshed.
    assert _loop.run(reader.exists("dataset_meta.json"))
    assert reader.refresher.fetches >= 1


def test_a_dropped_dataset_lets_go_of_its_lock_and_refresher_at_once(
    s3_platform: Running, s3_server: S3Server
) -> None:
    """A dataset dropped without close() gives up its write lock and its credential refresher
    when its last handle goes, while the platform that vends its credentials is still up: not
    at some later garbage-collector pass, when that platform may be gone and releasing the
    lock would ask it for credentials again."""
    user = s3_platform.user()

    def write() -> tuple[str, weakref.ref[GrantRefresher]]:
        ds = shoal.empty(f"hub://{user.name}/dropped", token=user.token)
        ds.create_tensor("x", htype="generic", dtype="int32")
        ds.x.append(np.arange(3, dtype=np.int32))
        store = ds._engine.storage
        assert isinstance(store, HubStorage) and store.refresher is not None
        return store.storage_url.split("/", 3)[3], weakref.ref(store.refresher)

    gc.disable()  # the lock must go without a collector pass
    try:
        prefix, refresher = write()
        listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix + "/")
    finally:
        gc.enable()
    stored = [o["Key"] for o in listed.get("Contents", [])]
    assert f"{prefix}/dataset_meta.json" in stored
    assert f"{prefix}/dataset_lock.lock" not in stored
    # nothing live keeps the refresher (its pooled client is closed on the I/O loop)
    deadline = time.monotonic() + 5
    while refresher() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    assert refresher() is None, "the dropped dataset's credential refresher is still referenced"
