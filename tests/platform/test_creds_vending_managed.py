"""Short-lived credentials from managed creds keys, on a real SeaweedFS whose org bucket only
the org's keys (or the org's role) reach: scoped to the location asked for, read-only for
readers, refused to outsiders, static keys only where the admin opted in, and a rotated key
used from the next vend on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import StartPlatform
from .org_store import ORG, ORG2, ORG_BUCKET, ORG_ROLE, PLATFORM, OrgStore, code_of, org_store
from .orgs import Org, make_org

__all__ = ["org_store"]


@pytest.fixture
def org(start_platform: StartPlatform, org_store: OrgStore) -> Iterator[Org]:
    p = start_platform(role_creds=org_store.keys(PLATFORM), creds_ttl=60, scrypt_n=1024)
    yield make_org(p)


def test_only_the_org_keys_reach_the_org_bucket(org_store: OrgStore) -> None:
    put = {"Bucket": ORG_BUCKET, "Key": "probe", "Body": b"x"}
    assert (
        code_of(lambda: org_store.client(org_store.keys(PLATFORM)).put_object(**put))
        == "AccessDenied"
    )
    assert code_of(lambda: org_store.client(org_store.keys(ORG)).put_object(**put)) == "ok"


def test_role_key_is_assumed_and_scoped(org: Org, org_store: OrgStore) -> None:
    org.add_key("role", "aws-role", {"role_arn": ORG_ROLE, "endpoint_url": org_store.endpoint})
    loc = f"s3://{ORG_BUCKET}/{org.name}/ds"
    status, body = org.vend(org.writer, "role", loc)
    assert status == 200, body
    assert body["scoped"] is True and body["mode"] == "a"
    creds = body["creds"]
    assert creds["aws_session_token"] and creds["aws_access_key_id"] != PLATFORM.access_key
    assert creds["endpoint_url"] == org_store.endpoint
    s3 = org_store.client(creds)
    assert (
        code_of(lambda: s3.put_object(Bucket=ORG_BUCKET, Key=f"{org.name}/ds/a", Body=b"1")) == "ok"
    )
    assert (
        code_of(lambda: s3.put_object(Bucket=ORG_BUCKET, Key=f"{org.name}/other/a", Body=b"1"))
        == "AccessDenied"
    )

    # a reader gets read-only credentials for the same place
    status, body = org.vend(org.reader, "role", loc)
    assert status == 200 and body["mode"] == "r" and body["scoped"] is True
    ro = org_store.client(body["creds"])
    assert ro.get_object(Bucket=ORG_BUCKET, Key=f"{org.name}/ds/a")["Body"].read() == b"1"
    assert (
        code_of(lambda: ro.put_object(Bucket=ORG_BUCKET, Key=f"{org.name}/ds/b", Body=b"1"))
        == "AccessDenied"
    )
    # a writer asking for mode=r gets read-only ones too
    assert org.vend(org.writer, "role", loc, mode="r")[1]["mode"] == "r"

    # outsiders are refused; errors name the key, never a secret
    status, err = org.vend(org.outsider, "role", loc)
    assert status == 403 and org.name in err["description"]
    status, err = org.vend(org.writer, "nokey", loc)
    assert status == 404 and "'nokey'" in err["description"]
    status, err = org.vend(org.writer, "role", "gcs://bucket/ds")
    assert status == 400 and "'role'" in err["description"] and err["error"] == "wrong_kind"


def test_keys_with_a_role_are_scoped(org: Org, org_store: OrgStore) -> None:
    org.add_key("keys", "aws-keys", {**org_store.keys(ORG), "role_arn": ORG_ROLE})
    status, body = org.vend(org.writer, "keys", f"s3://{ORG_BUCKET}/{org.name}/k")
    assert status == 200 and body["scoped"] is True
    assert body["creds"]["aws_access_key_id"] != ORG.access_key
    s3 = org_store.client(body["creds"])
    assert (
        code_of(lambda: s3.put_object(Bucket=ORG_BUCKET, Key=f"{org.name}/k/x", Body=b"1")) == "ok"
    )
    assert (
        code_of(lambda: s3.put_object(Bucket=ORG_BUCKET, Key=f"{org.name}/z/x", Body=b"1"))
        == "AccessDenied"
    )


def test_static_keys_only_with_opt_in_and_rotation(org: Org, org_store: OrgStore) -> None:
    org.add_key("static", "aws-keys", org_store.keys(ORG))
    loc = f"s3://{ORG_BUCKET}/{org.name}/s"
    status, err = org.vend(org.writer, "static", loc)
    assert status == 403 and err["error"] == "static_not_allowed"
    assert "'static'" in err["description"] and ORG.secret_key not in err["description"]

    status, _ = org.p.call(
        "PUT",
        f"/api/org/{org.name}/creds/static",
        {"secret": org_store.keys(ORG), "allow_static": True},
        token=org.admin.token,
    )
    assert status == 200
    status, body = org.vend(org.writer, "static", loc)
    assert status == 200 and body["scoped"] is False
    assert body["creds"]["aws_access_key_id"] == ORG.access_key

    # rotating the key takes effect on the next vend (no cache bypass asked for)
    status, _ = org.p.call(
        "PUT",
        f"/api/org/{org.name}/creds/static",
        {"secret": org_store.keys(ORG2)},
        token=org.admin.token,
    )
    assert status == 200
    status, body = org.vend(org.writer, "static", loc)
    assert status == 200 and body["creds"]["aws_access_key_id"] == ORG2.access_key
    s3 = org_store.client(body["creds"])
    assert (
        code_of(lambda: s3.put_object(Bucket=ORG_BUCKET, Key=f"{org.name}/s/x", Body=b"2")) == "ok"
    )


def test_role_without_platform_creds_is_a_clear_error(
    start_platform: StartPlatform, org_store: OrgStore
) -> None:
    o = make_org(start_platform(scrypt_n=1024))
    o.add_key("role", "aws-role", {"role_arn": ORG_ROLE, "endpoint_url": org_store.endpoint})
    status, err = o.vend(o.writer, "role", f"s3://{ORG_BUCKET}/x")
    assert status == 502 and "'role'" in err["description"] and "role_creds" in err["description"]
