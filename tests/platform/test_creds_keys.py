"""Managed credentials ("creds keys"): stored encrypted, never returned, admins only for
anything but listing, the CLI reading secrets from a file or stdin, and the encryption key
rotated without losing a stored key."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from shoal.cli import main as shoal_cli
from shoal.platform import crypto

from .conftest import Running, StartPlatform, User

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
SESSION = "FwoGZXIvYXdzEXAMPLE-session-token-value"
AWS_KEYS = {
    "aws_access_key_id": "AKIDEXAMPLEKEY00",
    "aws_secret_access_key": SECRET,
    "aws_session_token": SESSION,
    "endpoint_url": "http://127.0.0.1:9",
    "aws_region": "us-east-1",
}


def _org(p: Running) -> tuple[User, User, str]:
    admin, member = p.user(), p.user()
    org = f"{admin.name}-org"
    assert p.call("POST", "/api/organizations", {"name": org}, token=admin.token)[0] == 201
    status, _ = p.call(
        "PUT",
        f"/api/organizations/{org}/members/{member.name}",
        {"role": "write"},
        token=admin.token,
    )
    assert status == 200
    return admin, member, org


def _add(p: Running, org: str, token: str, name: str = "k1", **extra: Any) -> tuple[int, Any]:
    body = {"name": name, "kind": "aws-keys", "secret": AWS_KEYS, **extra}
    return p.call("POST", f"/api/org/{org}/creds", body, token=token)


def test_add_list_show_rotate_remove(platform: Running) -> None:
    admin, member, org = _org(platform)
    status, info = _add(platform, org, admin.token)
    assert status == 201, info
    assert info["name"] == "k1" and info["kind"] == "aws-keys"
    assert SECRET not in json.dumps(info) and SESSION not in json.dumps(info)
    assert info["settings"] == {"endpoint_url": "http://127.0.0.1:9", "aws_region": "us-east-1"}

    # members list names, kinds and times only
    status, listing = platform.call("GET", f"/api/org/{org}/creds", token=member.token)
    assert status == 200
    assert listing["creds_keys"] == [
        {"name": "k1", "kind": "aws-keys", "created_at": info["created_at"]}
    ]
    # members may not read, add, rotate or remove
    for method, path, body in (
        ("GET", f"/api/org/{org}/creds/k1", None),
        ("POST", f"/api/org/{org}/creds", {"name": "k2", "kind": "aws-keys", "secret": AWS_KEYS}),
        ("PUT", f"/api/org/{org}/creds/k1", {"secret": AWS_KEYS}),
        ("DELETE", f"/api/org/{org}/creds/k1", None),
    ):
        status, err = platform.call(method, path, body, token=member.token)
        assert status == 403, (method, path, err)
        assert "'admin'" in err["description"]
    # outsiders do not even list
    outsider = platform.user()
    assert platform.call("GET", f"/api/org/{org}/creds", token=outsider.token)[0] == 403

    status, shown = platform.call("GET", f"/api/org/{org}/creds/k1", token=admin.token)
    assert status == 200 and SECRET not in json.dumps(shown)
    rotated = {**AWS_KEYS, "aws_secret_access_key": "another-secret-value-0000"}
    status, info2 = platform.call(
        "PUT", f"/api/org/{org}/creds/k1", {"secret": rotated}, token=admin.token
    )
    assert status == 200 and info2["updated_at"] >= info["updated_at"]
    status, _ = platform.call("DELETE", f"/api/org/{org}/creds/k1", token=admin.token)
    assert status == 200
    status, err = platform.call("GET", f"/api/org/{org}/creds/k1", token=admin.token)
    assert status == 404 and "'k1'" in err["description"]


def test_bad_input_names_the_key_never_the_secret(platform: Running) -> None:
    admin, _, org = _org(platform)
    assert _add(platform, org, admin.token)[0] == 201
    status, err = _add(platform, org, admin.token)
    assert status == 409 and "'k1'" in err["description"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "k2", "kind": "azure", "secret": AWS_KEYS}, "unknown kind"),
        (
            {"name": "k2", "kind": "aws-role", "secret": AWS_KEYS},
            "lacks role_arn",
        ),
        (
            {"name": "k2", "kind": "aws-keys", "secret": {**AWS_KEYS, "AWS_SECRET": SECRET}},
            "unknown fields",
        ),
        (
            {"name": "k2", "kind": "aws-keys", "secret": {"aws_access_key_id": "AKID"}},
            "lacks aws_secret_access_key",
        ),
        ({"name": "k2", "kind": "gcs-key", "secret": {"type": "x"}}, "lacks client_email"),
        ({"name": "k2", "kind": "aws-keys", "secret": SECRET}, "must be a JSON object"),
    ]
    for body, words in cases:
        status, err = platform.call("POST", f"/api/org/{org}/creds", body, token=admin.token)
        assert status == 400, (body, err)
        assert words in err["description"] and "'k2'" in err["description"]
        assert SECRET not in json.dumps(err)
    status, err = platform.call(
        "PUT", f"/api/org/{org}/creds/nope", {"secret": AWS_KEYS}, token=admin.token
    )
    assert status == 404 and "'nope'" in err["description"]


def test_secret_is_encrypted_at_rest(start_platform: StartPlatform) -> None:
    p = start_platform(scrypt_n=1024)
    admin, _, org = _org(p)
    assert _add(p, org, admin.token)[0] == 201
    data = Path(p.config.data_dir)
    key_file = data / crypto.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for f in data.iterdir():
        if f.is_file():
            raw = f.read_bytes()
            assert SECRET.encode() not in raw and SESSION.encode() not in raw, f
    ((blob,),) = p.rows("SELECT secret FROM creds_keys")
    assert b"aws_secret_access_key" not in blob


def test_master_key_rotation(start_platform: StartPlatform, tmp_path: Path) -> None:
    data = tmp_path / "data"
    p = start_platform(data_dir=str(data), scrypt_n=1024)
    admin, _, org = _org(p)
    assert _add(p, org, admin.token)[0] == 201
    p.server.stop()
    old_id = (data / crypto.KEY_FILE).read_text().split()[0]
    assert shoal_cli(["creds", "new-master-key", "--data-dir", str(data)]) == 0
    ring = crypto.read_key_file(data / crypto.KEY_FILE)
    assert ring.current != old_id and old_id in ring.keys

    p2 = start_platform(data_dir=str(data), scrypt_n=1024)  # re-encrypts on startup
    assert p2.rows("SELECT key_id FROM creds_keys") == [(ring.current,)]
    p2.server.stop()
    # the old key may go now
    lines = (data / crypto.KEY_FILE).read_text().splitlines()
    (data / crypto.KEY_FILE).write_text(lines[0] + "\n")
    p3 = start_platform(data_dir=str(data), scrypt_n=1024)
    status, shown = p3.call("GET", f"/api/org/{org}/creds/k1", token=admin.token)
    assert status == 200 and shown["settings"]["aws_region"] == "us-east-1"


def test_key_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / crypto.KEY_FILE
    crypto.read_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(Exception, match="chmod 600"):
        crypto.read_key_file(path)


def test_cli(
    platform: Running,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin, member, org = _org(platform)
    monkeypatch.setenv("SHOAL_TOKEN", admin.token)
    secret_file = tmp_path / "k.json"
    secret_file.write_text(json.dumps(AWS_KEYS))
    assert (
        shoal_cli(
            ["creds", "add", "ck", "--org", org, "--kind", "aws-keys", "--file", str(secret_file)]
        )
        == 0
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"role_arn": "arn:aws:iam::role/R"})))
    assert (
        shoal_cli(["creds", "add", "role", "--org", org, "--kind", "aws-role", "--file", "-"]) == 0
    )
    assert shoal_cli(["creds", "show", "ck", "--org", org]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(AWS_KEYS)))
    assert shoal_cli(["creds", "rotate", "ck", "--org", org, "--file", "-"]) == 0
    # wrong kind for the secret, an unknown key: errors name the key
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(AWS_KEYS)))
    assert (
        shoal_cli(["creds", "add", "bad", "--org", org, "--kind", "aws-role", "--file", "-"]) != 0
    )
    assert shoal_cli(["creds", "remove", "nope", "--org", org]) != 0
    monkeypatch.setenv("SHOAL_TOKEN", member.token)
    assert shoal_cli(["creds", "list", "--org", org]) == 0
    assert shoal_cli(["creds", "show", "ck", "--org", org]) != 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "ck" in text and "role" in text and "aws-role" in text
    assert "'bad'" in text and "'nope'" in text
    assert SECRET not in text and SESSION not in text
