"""Connected datasets and default storage, on a SeaweedFS whose org bucket only the org's keys
reach: connect an s3:// dataset, open it as hub://org/name with no cloud keys in the code,
open s3:// with creds={"creds_key": ...}, create new hub:// datasets in the org's default
storage, and never delete the user's data by deleting the entry."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal import _loop
from shoal.cli import main as shoal_cli
from shoal.errors import (
    InvalidCredsError,
    PermissionDeniedError,
    PlatformError,
    PlatformNotFoundError,
    ReadOnlyError,
)

from .org_store import ORG, ORG2, ORG_BUCKET, ORG_ROLE, PLATFORM, OrgStore, org_store
from .orgs import Org, role_org

__all__ = ["org_store", "role_org"]

SECRETS = (ORG.secret_key, ORG2.secret_key, PLATFORM.secret_key)


@pytest.fixture
def org(role_org: Org) -> Org:
    return role_org


def _seed(org_store: OrgStore, url: str) -> None:
    """A dataset written by the org with its own keys (before the platform knows about it)."""
    ds = shoal.empty(url, creds=org_store.keys(ORG))
    ds.create_tensor("x", htype="generic", dtype="int32")
    ds.x.extend(np.arange(12, dtype=np.int32).reshape(4, 3))


def _objects(org_store: OrgStore, prefix: str) -> list[str]:
    listed = org_store.client(org_store.keys(ORG)).list_objects_v2(
        Bucket=ORG_BUCKET, Prefix=prefix + "/"
    )
    return [o["Key"] for o in listed.get("Contents", [])]


def test_connect_then_load_hub(org: Org, org_store: OrgStore) -> None:
    src = f"s3://{ORG_BUCKET}/{org.name}/conn"
    _seed(org_store, src)
    ds = shoal.connect(src, "role", org_id=org.name, token=org.writer.token)
    assert ds.path == f"hub://{org.name}/conn"
    np.testing.assert_array_equal(ds.x.numpy(), np.arange(12).reshape(4, 3))

    status, answer = org.p.call("GET", f"/api/org/{org.name}/ds/conn/creds", token=org.writer.token)
    assert status == 200 and answer["path"] == src
    assert answer["connected"] is True and answer["scoped"] is True
    assert answer["creds_key"] == "role" and answer["creds"]["aws_session_token"]

    # a writer appends through hub://; a reader reads, read-only; an outsider is refused
    w = shoal.load(f"hub://{org.name}/conn", token=org.writer.token)
    w.x.append(np.array([7, 8, 9], dtype=np.int32))
    r = shoal.load(f"hub://{org.name}/conn", token=org.reader.token)
    assert r.read_only and len(r.x) == 5
    with pytest.raises(ReadOnlyError):
        r.x.append(np.array([0, 0, 0], dtype=np.int32))
    with pytest.raises(PermissionDeniedError, match=org.name):
        shoal.load(f"hub://{org.name}/conn", token=org.outsider.token)

    # a key in use stays until what uses it is gone
    status, err = org.p.call("DELETE", f"/api/org/{org.name}/creds/role", token=org.admin.token)
    assert status == 409 and "'role'" in err["description"] and "conn" in err["description"]

    # deleting the hub:// dataset removes the entry, never the data
    shoal.delete(f"hub://{org.name}/conn", token=org.writer.token)
    assert org.p.call("GET", f"/api/org/{org.name}/dataset/conn", token=org.writer.token)[0] == 404
    assert any(k.endswith("dataset_meta.json") for k in _objects(org_store, f"{org.name}/conn"))


def test_load_s3_with_a_managed_key_and_ds_connect(org: Org, org_store: OrgStore) -> None:
    src = f"s3://{ORG_BUCKET}/{org.name}/direct"
    _seed(org_store, src)
    ds = shoal.load(src, creds={"creds_key": "role"}, org_id=org.name, token=org.writer.token)
    assert len(ds.x) == 4
    ds.x.append(np.array([1, 2, 3], dtype=np.int32))
    assert ds.connect(dest_path=f"hub://{org.name}/direct2", token=org.writer.token) == (
        f"hub://{org.name}/direct2"
    )
    assert ds.path == f"hub://{org.name}/direct2"
    assert len(shoal.load(f"hub://{org.name}/direct2", token=org.reader.token).x) == 5

    # a reader gets a read-only store from the managed key
    ro = shoal.load(src, creds={"creds_key": "role"}, org_id=org.name, token=org.reader.token)
    assert ro.read_only
    # the same data cannot be connected twice
    other = f"s3://{ORG_BUCKET}/{org.name}/other"
    _seed(org_store, other)
    ds2 = shoal.load(other, creds={"creds_key": "role"}, org_id=org.name, token=org.writer.token)
    assert ds2.connect(org_id=org.name, token=org.writer.token) == f"hub://{org.name}/other"
    with pytest.raises(PlatformError, match="connected to the platform already"):
        shoal.connect(src, "role", dest_path=f"hub://{org.name}/again", token=org.writer.token)


def test_default_storage(org: Org, org_store: OrgStore) -> None:
    where = f"s3://{ORG_BUCKET}/{org.name}/default"
    status, err = org.p.call(
        "PUT",
        f"/api/org/{org.name}/storage",
        {"url": where, "creds_key": "role"},
        token=org.writer.token,
    )
    assert status == 403 and "'admin'" in err["description"]
    status, body = org.p.call(
        "PUT",
        f"/api/org/{org.name}/storage",
        {"url": where, "creds_key": "role"},
        token=org.admin.token,
    )
    assert status == 200, body
    ds = shoal.empty(f"hub://{org.name}/fresh", token=org.writer.token)
    ds.create_tensor("y", htype="generic", dtype="float32")
    ds.y.extend(np.ones((3, 2), dtype=np.float32))
    assert any(
        k.endswith("dataset_meta.json") for k in _objects(org_store, f"{org.name}/default/fresh")
    )
    status, info = org.p.call("GET", f"/api/org/{org.name}/dataset/fresh", token=org.reader.token)
    assert status == 200 and info["path"] == f"{where}/fresh"
    assert len(shoal.load(f"hub://{org.name}/fresh", token=org.reader.token).y) == 3

    # back to the platform's root: new datasets go there, the existing one stays
    assert org.p.call("DELETE", f"/api/org/{org.name}/storage", token=org.admin.token)[0] == 200
    assert (
        org.p.call("GET", f"/api/org/{org.name}/storage", token=org.reader.token)[1]["url"] is None
    )
    assert len(shoal.load(f"hub://{org.name}/fresh", token=org.reader.token).y) == 3


def test_bad_input_names_the_key(org: Org, org_store: OrgStore) -> None:
    src = f"s3://{ORG_BUCKET}/{org.name}/bad"
    with pytest.raises(PlatformNotFoundError, match="'nokey'"):
        shoal.connect(src, "nokey", org_id=org.name, token=org.writer.token)
    with pytest.raises(PlatformError, match="'role'"):
        shoal.connect(f"gcs://bucket/{org.name}", "role", org_id=org.name, token=org.writer.token)
    with pytest.raises(PermissionDeniedError):
        shoal.connect(src, "role", org_id=org.name, token=org.reader.token)
    with pytest.raises(InvalidCredsError, match="'role'.*org_id"):
        shoal.load(src, creds={"creds_key": "role"}, token=org.writer.token)
    with pytest.raises(InvalidCredsError, match="no other keys"):
        shoal.load(src, creds={"creds_key": "role", "aws_access_key_id": "x"}, org_id=org.name)
    with pytest.raises(PlatformNotFoundError, match="'nokey'"):
        shoal.load(src, creds={"creds_key": "nokey"}, org_id=org.name, token=org.writer.token)


def test_no_stored_secret_shows_anywhere(
    org: Org,
    org_store: OrgStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    secret_file = tmp_path / "keys.json"
    secret_file.write_text(__import__("json").dumps(org_store.keys(ORG)))
    monkeypatch.setenv("SHOAL_TOKEN", org.admin.token)
    assert (
        shoal_cli(
            [
                "creds",
                "add",
                "static",
                "--org",
                org.name,
                "--kind",
                "aws-keys",
                "--file",
                str(secret_file),
                "--allow-static",
            ]
        )
        == 0
    )
    secret_file.write_text(__import__("json").dumps(org_store.keys(ORG2)))
    assert (
        shoal_cli(["creds", "rotate", "static", "--org", org.name, "--file", str(secret_file)]) == 0
    )
    assert shoal_cli(["creds", "list", "--org", org.name]) == 0
    assert shoal_cli(["creds", "show", "static", "--org", org.name]) == 0
    assert (
        shoal_cli(
            [
                "creds",
                "add",
                "static",
                "--org",
                org.name,
                "--kind",
                "aws-keys",
                "--file",
                str(secret_file),
            ]
        )
        != 0
    )
    secret_file.unlink()

    src = f"s3://{ORG_BUCKET}/{org.name}/leak"
    _seed(org_store, src)
    ds = shoal.connect(src, "static", org_id=org.name, token=org.writer.token)
    seen += [repr(ds), str(ds), repr(org.p.config)]
    errors: list[Any] = []
    for bad in (
        lambda: shoal.connect(src, "static", org_id=org.name, token=org.writer.token),
        lambda: shoal.load(src, creds={"creds_key": "static"}, token=org.writer.token),
        lambda: shoal.connect(
            f"gcs://b/{org.name}", "static", org_id=org.name, token=org.writer.token
        ),
    ):
        with pytest.raises(Exception) as info:
            bad()
        errors.append(info.value)
    seen += [str(e) for e in errors] + [repr(e) for e in errors]
    out = capsys.readouterr()
    seen += [out.out, out.err, caplog.text]
    for f in Path(org.p.config.data_dir).rglob("*"):
        if f.is_file():
            seen.append(f.read_bytes().decode("latin-1"))
    text = "\n".join(seen)
    assert "static" in text and "aws-keys" in text  # the search looked at real output
    for secret in SECRETS:
        assert secret not in text


def test_rotation_reaches_an_open_dataset(org: Org, org_store: OrgStore) -> None:
    """STS credentials here live 8 s: after rotating the key, the open dataset's next refresh
    vends from the new secret (a broken one fails naming the key; a good one works again)."""
    good = {**org_store.keys(ORG), "role_arn": ORG_ROLE}
    org.add_key("kr", "aws-keys", good)
    src = f"s3://{ORG_BUCKET}/{org.name}/rot"
    _seed(org_store, src)
    ds = shoal.connect(src, "kr", org_id=org.name, token=org.writer.token)
    store = ds._engine.storage

    def rotate(secret: dict[str, str]) -> None:
        status, body = org.p.call(
            "PUT", f"/api/org/{org.name}/creds/kr", {"secret": secret}, token=org.admin.token
        )
        assert status == 200, body

    rotate({**good, "aws_secret_access_key": "not-the-secret-0000000000000000"})
    time.sleep(9)  # past the vended credentials' lifetime
    with pytest.raises(Exception, match="'kr'") as info:
        _loop.run(store.get("dataset_meta.json"))
    assert "not-the-secret" not in str(info.value)
    rotate({**org_store.keys(ORG2), "role_arn": ORG_ROLE})
    assert _loop.run(store.get("dataset_meta.json"))


def test_creds_answer_is_one_database_trip_and_checks_as_before(
    org: Org, org_store: OrgStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub:// open waits on /creds: with the grant cached, the answer costs one batch of
    lookups (token, org, entry, role, key and cached grant read together; on SQLite on the
    event loop, without a trip to the database's threads), and the token, the caller's access
    and the access asked for are checked as they always were."""
    from shoal.platform.db import Database

    src = f"s3://{ORG_BUCKET}/{org.name}/trip"
    _seed(org_store, src)
    shoal.connect(src, "role", org_id=org.name, token=org.writer.token)
    path = f"/api/org/{org.name}/ds/trip/creds"
    first = org.p.call("GET", path + "?mode=r", token=org.reader.token)
    assert first[0] == 200  # vended, now cached
    trips: list[str] = []
    run = Database.batch  # on SQLite, a batch is one trip to the database's threads

    async def counted(self: Database, fn: Any, *args: Any, lookup: bool = False) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)) + (" (lookup)" if lookup else ""))
        return await run(self, fn, *args, lookup=lookup)

    monkeypatch.setattr(Database, "batch", counted)
    status, answer = org.p.call("GET", path + "?mode=r", token=org.reader.token)
    assert status == 200 and trips == ["_owner_then (lookup)"], trips
    assert answer["creds"] == first[1]["creds"] and answer["mode"] == "r"
    # the reader's cached read grant is never a writer's answer: the writer's is its own
    status, answer = org.p.call("GET", path, token=org.writer.token)
    assert status == 200 and answer["mode"] == "a"
    assert answer["creds"]["aws_session_token"] != first[1]["creds"]["aws_session_token"]
    # a reader asking to write gets read access; an outsider, a bad and a revoked token: no
    assert org.p.call("GET", path + "?mode=w", token=org.reader.token)[1]["mode"] == "r"
    status, answer = org.p.call("GET", path + "?mode=r", token=org.outsider.token)
    assert status == 403 and "creds" not in answer
    status, answer = org.p.call("GET", path + "?mode=r", token=org.reader.token + "x")
    assert status == 401 and answer["error"] == "token_invalid"
    status, body = org.p.call(
        "POST", "/api/user/tokens", {"name": "ci", "expires": "1d"}, token=org.reader.token
    )
    assert status == 201
    assert org.p.call("GET", path + "?mode=r", token=body["token"])[0] == 200
    assert org.p.call("DELETE", "/api/user/tokens/ci", token=org.reader.token)[0] == 200
    status, answer = org.p.call("GET", path + "?mode=r", token=body["token"])
    assert status == 401 and answer["error"] == "token_revoked" and "creds" not in answer
    status, answer = org.p.call("GET", path + "?mode=x", token=org.reader.token)
    assert status == 400 and "mode" in answer["description"]
    status, answer = org.p.call(
        "GET", path.replace(org.name, "no-such-org"), token=org.reader.token
    )
    assert status == 404 and answer["error"] == "org_not_found"


def test_a_kept_creds_lookup_never_hands_out_a_grant_past_half_its_life(
    org: Org, org_store: OrgStore
) -> None:
    """On SQLite the /creds lookups are kept until the next commit, cached grant and all; the
    grant's freshness is judged when the answer is made, so once half its 8 s are gone the
    next answer is a newly vended one even though nothing was committed in between."""
    src = f"s3://{ORG_BUCKET}/{org.name}/halflife"
    _seed(org_store, src)
    shoal.connect(src, "role", org_id=org.name, token=org.writer.token)
    path = f"/api/org/{org.name}/ds/halflife/creds?mode=r"
    first = org.p.call("GET", path, token=org.reader.token)[1]["creds"]["aws_session_token"]
    again = org.p.call("GET", path, token=org.reader.token)[1]["creds"]["aws_session_token"]
    assert again == first  # cached (and the lookup now kept: nothing committed since)
    time.sleep(4.5)
    later = org.p.call("GET", path, token=org.reader.token)[1]["creds"]["aws_session_token"]
    assert later != first
