"""``hub://org/name`` datasets through the shoal API against a platform with a local storage
root: create, write, load, read, exists, delete, rename, privacy, read-only access, token
lookup, credential caching."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.auth import hub_datasets, hub_grants
from shoal.auth.platform_api import PlatformClient
from shoal.errors import (
    DatasetExistsError,
    DatasetNotFoundError,
    PathError,
    PermissionDeniedError,
    PlatformNotFoundError,
    ReadOnlyError,
)
from shoal.storage._hub import HubStorage

from .conftest import Running, unique


def write_sample(path: str, token: str | None, n: int = 5) -> None:
    ds = shoal.empty(path, token=token)
    ds.create_tensor("x", htype="generic", dtype="int32")
    ds.x.extend(np.arange(n * 3, dtype=np.int32).reshape(n, 3))


def read_sample(path: str, token: str | None) -> np.ndarray:
    return np.asarray(shoal.load(path, token=token).x.numpy())


def test_create_write_load_read_delete(platform: Running) -> None:
    user = platform.user()
    path = f"hub://{user.name}/first"
    assert not shoal.exists(path, token=user.token)
    write_sample(path, user.token)
    assert shoal.exists(path, token=user.token)
    np.testing.assert_array_equal(read_sample(path, user.token), np.arange(15).reshape(5, 3))
    # The platform recorded the entry, and the data is under the storage root.
    status, info = platform.call("GET", f"/api/org/{user.name}/dataset/first", token=user.token)
    assert status == 200 and info["public"] is False
    assert info["path"] == os.path.join(platform.config.root, user.name, "first")
    assert (Path(info["path"]) / "dataset_meta.json").is_file()
    with pytest.raises(DatasetExistsError):
        shoal.empty(path, token=user.token)
    ds = shoal.dataset(path, token=user.token)  # exists: loads
    assert len(ds) == 5
    shoal.delete(path, token=user.token)
    assert not shoal.exists(path, token=user.token)
    assert platform.call("GET", f"/api/org/{user.name}/dataset/first", token=user.token)[0] == 404
    with pytest.raises(DatasetNotFoundError):
        shoal.load(path, token=user.token)
    # Overwrite keeps the entry.
    write_sample(path, user.token)
    shoal.empty(path, overwrite=True, token=user.token)
    assert platform.call("GET", f"/api/org/{user.name}/dataset/first", token=user.token)[0] == 200


def test_dataset_creates_when_missing(platform: Running) -> None:
    user = platform.user()
    ds = shoal.dataset(f"hub://{user.name}/made", token=user.token)
    ds.create_tensor("t", htype="text")
    ds.t.append("hello")
    assert shoal.load(f"hub://{user.name}/made", token=user.token).t[0].numpy() == "hello"


def test_token_lookup_order(platform: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    user, other = platform.user(), platform.user()
    path = f"hub://{user.name}/tok"
    write_sample(path, user.token)
    # SHOAL_TOKEN, then ACTIVELOOP_TOKEN.
    monkeypatch.setenv("ACTIVELOOP_TOKEN", user.token)
    assert shoal.exists(path)
    monkeypatch.setenv("SHOAL_TOKEN", other.token)
    hub_grants.clear_cache()
    with pytest.raises(PermissionDeniedError, match="not a member"):
        shoal.exists(path)
    # token= wins over both.
    assert shoal.exists(path, token=user.token)
    monkeypatch.delenv("SHOAL_TOKEN")
    monkeypatch.delenv("ACTIVELOOP_TOKEN")
    # Then the stored login (shoal login).
    assert run_cli(["login", "-u", user.name, "--password", user.password]) == 0
    assert shoal.exists(path)
    np.testing.assert_array_equal(read_sample(path, None), np.arange(15).reshape(5, 3))


def run_cli(argv: list[str]) -> int:
    from shoal.cli import main

    return main(argv)


def test_reader_opens_read_only(platform: Running) -> None:
    owner, reader = platform.user(), platform.user()
    org = unique("org")
    platform.call("POST", "/api/organizations", {"name": org}, token=owner.token)
    platform.call(
        "PUT",
        f"/api/organizations/{org}/members/{reader.name}",
        {"role": "read"},
        token=owner.token,
    )
    path = f"hub://{org}/shared"
    write_sample(path, owner.token)
    ds = shoal.load(path, token=reader.token)  # not asked read-only: the platform decides
    assert ds.x.numpy().shape == (5, 3)
    with pytest.raises(ReadOnlyError, match="read-only"):
        ds.x.append(np.zeros(3, dtype=np.int32))
    # Writing to the store directly says why (the engine checks first, with its own words).
    store = ds._engine.storage
    assert isinstance(store, HubStorage)
    with pytest.raises(ReadOnlyError, match=f"role 'read' in '{org}'.*'write' role"):
        store.check_writable("x")
    with pytest.raises(ReadOnlyError):
        shoal.empty(f"hub://{org}/mine", token=reader.token)
    with pytest.raises(ReadOnlyError):
        shoal.delete(path, token=reader.token)
    # Nothing was registered by the failed create.
    status, listed = platform.call("GET", f"/api/org/{org}/datasets", token=owner.token)
    assert status == 200
    assert [d["name"] for d in listed["datasets"]] == ["shared"]


def test_other_orgs_are_denied(platform: Running) -> None:
    alice, bob = platform.user(), platform.user()
    path = f"hub://{alice.name}/private"
    write_sample(path, alice.token)
    for action in (
        lambda: shoal.load(path, token=bob.token),
        lambda: shoal.exists(path, token=bob.token),
        lambda: shoal.empty(f"hub://{alice.name}/new", token=bob.token),
        lambda: shoal.delete(path, token=bob.token),
        lambda: hub_datasets.rename_dataset(path, "taken", token=bob.token),
        lambda: hub_datasets.set_public(path, True, token=bob.token),
    ):
        with pytest.raises(
            PermissionDeniedError, match=f"not a member of organization '{alice.name}'"
        ):
            action()
    assert read_sample(path, alice.token).shape == (5, 3)


def test_public_dataset_without_a_token(platform: Running) -> None:
    owner = platform.user()
    path = f"hub://{owner.name}/open"
    write_sample(path, owner.token)
    with pytest.raises(PermissionError, match="sign in"):
        shoal.load(path)
    hub_datasets.set_public(path, True, token=owner.token)
    ds = shoal.load(path)
    assert ds.x.numpy().shape == (5, 3)
    with pytest.raises(ReadOnlyError, match="read-only"):
        ds.x.append(np.zeros(3, dtype=np.int32))
    hub_datasets.set_public(path, False, token=owner.token)
    hub_grants.clear_cache()
    with pytest.raises(PermissionError):
        shoal.load(path)


def test_rename(platform: Running) -> None:
    user = platform.user()
    old, new = f"hub://{user.name}/before", f"hub://{user.name}/after"
    write_sample(old, user.token)
    assert hub_datasets.rename_dataset(old, "after", token=user.token) == new
    np.testing.assert_array_equal(read_sample(new, user.token), np.arange(15).reshape(5, 3))
    assert not shoal.exists(old, token=user.token)
    # A new dataset under the old name gets its own storage, away from the renamed one's.
    write_sample(old, user.token, n=2)
    assert read_sample(old, user.token).shape == (2, 3)
    assert read_sample(new, user.token).shape == (5, 3)
    with pytest.raises(Exception, match="exists"):
        hub_datasets.rename_dataset(old, "after", token=user.token)


@pytest.mark.parametrize(
    "bad", ["hub://onlyorg", "hub://org/a/b", "hub://org/bad name", "hub://o/x.y"]
)
def test_invalid_hub_paths(bad: str) -> None:
    with pytest.raises(PathError, match="hub://org/name"):
        shoal.exists(bad, token="t")


def test_unknown_org(platform: Running) -> None:
    user = platform.user()
    with pytest.raises(PlatformNotFoundError, match="no organization named"):
        shoal.empty(f"hub://{unique('nobody')}/ds", token=user.token)


def test_creds_are_cached_until_near_expiry(
    platform: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = platform.user()
    path = f"hub://{user.name}/cached"
    write_sample(path, user.token)
    calls: list[tuple[Any, ...]] = []
    real = PlatformClient.dataset_creds

    async def counting(self: PlatformClient, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(args)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(PlatformClient, "dataset_creds", counting)
    hub_grants.clear_cache()
    read_sample(path, user.token)
    read_sample(path, user.token)
    shoal.load(path, token=user.token)
    assert len(calls) == 1  # one round trip, then the cache
    # Near expiry the grant is fetched again.
    now = time.time()
    grant = hub_grants.Grant("p", {}, "a", now + 3600, True, "admin", "u", now)
    assert grant.fresh_enough(now) and grant.fresh_enough(now + 3000)
    assert not grant.fresh_enough(now + 3400)


def test_cli_dataset_commands(platform: Running, capsys: pytest.CaptureFixture[str]) -> None:
    user = platform.user()
    write_sample(f"hub://{user.name}/cli-ds", user.token)
    assert run_cli(["login", "--token", user.token]) == 0
    assert run_cli(["dataset", "list", user.name]) == 0
    assert f"hub://{user.name}/cli-ds" in capsys.readouterr().out
    assert run_cli(["dataset", "public", f"hub://{user.name}/cli-ds"]) == 0
    assert run_cli(["dataset", "rename", f"hub://{user.name}/cli-ds", "cli-ds2"]) == 0
    status, info = platform.call("GET", f"/api/org/{user.name}/dataset/cli-ds2")
    assert status == 200 and info["public"] is True
    assert run_cli(["dataset", "rename", f"hub://{user.name}/nope", "x"]) == 2
    assert "no dataset" in capsys.readouterr().err
