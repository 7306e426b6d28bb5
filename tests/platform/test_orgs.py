"""Organizations, roles, and access control: across orgs every endpoint says no (and changes
nothing), and inside an org each role can do exactly what it should."""

from __future__ import annotations

import pytest

from .conftest import Running, User, unique


def snapshot(p: Running) -> list[str]:
    """Every row of the platform's database, as text (read through a second connection)."""
    return p.dump()


@pytest.fixture
def two_orgs(platform: Running) -> tuple[User, User, str]:
    """alice (owner of a private dataset 'secret' in her org) and bob (another user)."""
    alice, bob = platform.user(unique("alice")), platform.user(unique("bob"))
    status, body = platform.call(
        "POST", "/api/dataset/create", {"tag": f"{alice.name}/secret"}, token=alice.token
    )
    assert status == 200, body
    status, body = platform.call("POST", "/api/user/tokens", {"name": "alices"}, token=alice.token)
    assert status == 201
    return alice, bob, body["token"]


def cross_org_requests(a: str, b: str) -> list[tuple[str, str, object]]:
    """Every endpoint that names an org (or another user's token), aimed at ``a``'s by ``b``."""
    return [
        ("GET", f"/api/organizations/{a}", None),
        ("GET", f"/api/organizations/{a}/members", None),
        ("PUT", f"/api/organizations/{a}/members/{b}", {"role": "admin"}),
        ("DELETE", f"/api/organizations/{a}/members/{a}", None),
        ("GET", f"/api/org/{a}/ds/secret/creds?mode=r", None),
        ("GET", f"/api/org/{a}/ds/secret/creds?mode=w", None),
        ("GET", f"/api/org/{a}/ds/not-there/creds", None),
        ("POST", "/api/dataset/create", {"tag": f"{a}/secret", "rewrite": True}),
        ("POST", "/api/dataset/create", {"tag": f"{a}/new-one"}),
        ("DELETE", f"/api/dataset/{a}/secret", None),
        ("DELETE", f"/api/dataset/{a}/not-there", None),
        ("PUT", f"/api/org/{a}/dataset/secret", {"public": True}),
        ("PUT", f"/api/org/{a}/dataset/secret", {"basename": "stolen"}),
        ("GET", f"/api/org/{a}/dataset/secret", None),
    ]


def test_every_endpoint_denies_other_orgs(
    platform: Running, two_orgs: tuple[User, User, str]
) -> None:
    alice, bob, alice_api = two_orgs
    before = snapshot(platform)
    for method, path, body in cross_org_requests(alice.name, bob.name):
        status, answer = platform.call(method, path, body, token=bob.token)
        assert status == 403, (method, path, status, answer)
        assert f"not a member of organization {alice.name!r}" in answer["description"]
        status, answer = platform.call(method, path, body)  # anonymous
        assert status == 401, (method, path, status, answer)
    # Listing shows non-members no private dataset.
    status, answer = platform.call("GET", f"/api/org/{alice.name}/datasets", token=bob.token)
    assert status == 200 and answer["datasets"] == []
    # Bob cannot revoke Alice's token by name: it is looked up among his own.
    assert platform.call("DELETE", "/api/user/tokens/alices", token=bob.token)[0] == 404
    assert snapshot(platform) == before
    assert platform.call("GET", "/api/user/profile", token=alice_api)[0] == 200


def test_unknown_org_and_dataset(platform: Running) -> None:
    user = platform.user()
    status, body = platform.call("GET", "/api/org/no-such-org/ds/x/creds", token=user.token)
    assert status == 404 and "no organization named 'no-such-org'" in body["description"]
    status, body = platform.call("GET", f"/api/org/{user.name}/dataset/nope", token=user.token)
    assert status == 404 and body["error"] == "dataset_not_found"
    status, body = platform.call("GET", "/api/org/bad..name/ds/x/creds", token=user.token)
    assert status == 400 and "invalid organization name" in body["description"]
    status, body = platform.call("GET", f"/api/org/{user.name}/ds/bad.name/creds", token=user.token)
    assert status == 400 and "invalid dataset name" in body["description"]
    status, body = platform.call("POST", "/api/dataset/create", {"tag": "a/b/c"}, token=user.token)
    assert status == 400 and "org/name" in body["description"]


def test_roles(platform: Running) -> None:
    owner = platform.user()
    reader, writer, admin = platform.user(), platform.user(), platform.user()
    org = unique("team")
    assert platform.call("POST", "/api/organizations", {"name": org}, token=owner.token)[0] == 201
    for user, role in ((reader, "read"), (writer, "write"), (admin, "admin")):
        status, body = platform.call(
            "PUT",
            f"/api/organizations/{org}/members/{user.name}",
            {"role": role},
            token=owner.token,
        )
        assert status == 200, body
    assert (
        platform.call("POST", "/api/dataset/create", {"tag": f"{org}/ds"}, token=writer.token)[0]
        == 200
    )

    # creds: readers get read-only access whatever they ask for; writers get write access.
    for user, want in ((reader, "r"), (writer, "a"), (admin, "a")):
        status, body = platform.call("GET", f"/api/org/{org}/ds/ds/creds?mode=w", token=user.token)
        assert status == 200 and body["mode"] == want
        status, body = platform.call("GET", f"/api/org/{org}/ds/ds/creds?mode=r", token=user.token)
        assert body["mode"] == "r"

    def can(user: User, method: str, path: str, body: object = None) -> int:
        return platform.call(method, path, body, token=user.token)[0]

    assert can(reader, "POST", "/api/dataset/create", {"tag": f"{org}/ds2"}) == 403
    assert can(reader, "PUT", f"/api/org/{org}/dataset/ds", {"basename": "ds3"}) == 403
    assert can(reader, "DELETE", f"/api/dataset/{org}/ds") == 403
    assert can(reader, "GET", f"/api/org/{org}/dataset/ds") == 200
    assert can(reader, "GET", f"/api/organizations/{org}/members") == 200
    assert can(writer, "PUT", f"/api/org/{org}/dataset/ds", {"public": True}) == 403
    assert can(writer, "POST", "/api/dataset/create", {"tag": f"{org}/pub", "public": True}) == 403
    assert (
        can(writer, "PUT", f"/api/organizations/{org}/members/{reader.name}", {"role": "admin"})
        == 403
    )
    assert can(writer, "PUT", f"/api/org/{org}/dataset/ds", {"basename": "renamed"}) == 200
    assert can(admin, "PUT", f"/api/org/{org}/dataset/renamed", {"public": True}) == 200
    status, body = platform.call(
        "PUT",
        f"/api/organizations/{org}/members/{reader.name}",
        {"role": "owner"},
        token=admin.token,
    )
    assert status == 400 and "role must be one of" in body["description"]
    status, body = platform.call(
        "PUT",
        f"/api/organizations/{org}/members/{unique('ghost')}",
        {"role": "read"},
        token=admin.token,
    )
    assert status == 404 and "no user named" in body["description"]
    # Members may leave; admins remove others; the last admin stays.
    assert can(reader, "DELETE", f"/api/organizations/{org}/members/{reader.name}") == 200
    assert can(reader, "GET", f"/api/org/{org}/dataset/renamed") == 200  # public now
    assert can(reader, "DELETE", f"/api/dataset/{org}/renamed") == 403
    assert can(admin, "DELETE", f"/api/organizations/{org}/members/{writer.name}") == 200
    assert can(admin, "DELETE", f"/api/organizations/{org}/members/{owner.name}") == 200
    status, body = platform.call(
        "DELETE", f"/api/organizations/{org}/members/{admin.name}", token=admin.token
    )
    assert status == 409 and "no admin left" in body["description"]
    status, body = platform.call("GET", "/api/organizations", token=admin.token)
    assert {o["name"]: o["role"] for o in body["organizations"]} == {
        admin.name: "admin",
        org: "admin",
    }


def test_org_names_share_the_user_namespace(platform: Running) -> None:
    user = platform.user()
    status, body = platform.call(
        "POST", "/api/organizations", {"name": user.name}, token=user.token
    )
    assert status == 409
    org = unique("org")
    assert platform.call("POST", "/api/organizations", {"name": org}, token=user.token)[0] == 201
    status, body = platform.call(
        "POST",
        "/api/user/register",
        {"username": org, "email": f"{org}@x.io", "password": "longenough"},
    )
    assert status == 409 and "organization" in body["description"]
    # Personal orgs keep their owner as admin.
    other = platform.user()
    status, body = platform.call(
        "PUT",
        f"/api/organizations/{user.name}/members/{other.name}",
        {"role": "write"},
        token=user.token,
    )
    assert status == 200
    status, body = platform.call(
        "PUT",
        f"/api/organizations/{user.name}/members/{user.name}",
        {"role": "read"},
        token=user.token,
    )
    assert status == 409


def test_public_datasets(platform: Running) -> None:
    owner, stranger = platform.user(), platform.user()
    tag = f"{owner.name}/open"
    assert platform.call("POST", "/api/dataset/create", {"tag": tag}, token=owner.token)[0] == 200
    path = f"/api/org/{owner.name}/ds/open/creds"
    assert platform.call("GET", path)[0] == 401
    assert (
        platform.call(
            "PUT", f"/api/org/{tag.replace('/', '/dataset/')}", {"public": True}, token=owner.token
        )[0]
        == 200
    )
    for token in (None, stranger.token, "PUBLIC_TOKEN_" + "_" * 150):
        status, body = platform.call("GET", path + "?mode=w", token=token)
        assert status == 200 and body["mode"] == "r" and body["public"] is True
    status, body = platform.call("GET", f"/api/org/{owner.name}/datasets")
    assert [d["name"] for d in body["datasets"]] == ["open"]
    # Public means readable, not writable or deletable.
    assert platform.call("DELETE", f"/api/dataset/{tag}", token=stranger.token)[0] == 403
    assert (
        platform.call("POST", "/api/dataset/create", {"tag": tag}, token=stranger.token)[0] == 403
    )
