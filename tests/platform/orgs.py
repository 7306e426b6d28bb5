"""Organizations on a running platform, for the managed-credentials tests.

:func:`make_org` registers an org with an admin, a writer, a reader and an outsider;
:class:`Org` adds creds keys and asks for vended credentials as them. The ``role_org`` fixture
is the setup most of those tests share: a platform whose own keys reach only its bucket of the
org store (``org_store``), the client pointed at it, and an org holding the creds key ``role``
(the org's role, assumed through STS). Import it next to ``org_store`` in a test module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.platform_fixtures import Running, StartPlatform, User

from .org_store import ORG_ROLE, PLATFORM, OrgStore

__all__ = ["Org", "make_org", "role_org"]


@dataclass
class Org:
    p: Running
    name: str
    admin: User
    writer: User
    reader: User
    outsider: User

    def add_key(self, name: str, kind: str, secret: dict[str, Any], **extra: Any) -> None:
        status, body = self.p.call(
            "POST",
            f"/api/org/{self.name}/creds",
            {"name": name, "kind": kind, "secret": secret, **extra},
            token=self.admin.token,
        )
        assert status == 201, body

    def vend(self, who: User, key: str, path: str | None = None, **q: str) -> tuple[int, Any]:
        query = f"?query={key}" + (f"&path={path}" if path else "")
        query += "".join(f"&{k}={v}" for k, v in q.items())
        return self.p.call("GET", f"/api/org/{self.name}/storage/name{query}", token=who.token)


def make_org(p: Running) -> Org:
    admin, writer, reader, outsider = p.user(), p.user(), p.user(), p.user()
    name = f"{admin.name}-org"
    assert p.call("POST", "/api/organizations", {"name": name}, token=admin.token)[0] == 201
    for user, role in ((writer, "write"), (reader, "read")):
        status, _ = p.call(
            "PUT",
            f"/api/organizations/{name}/members/{user.name}",
            {"role": role},
            token=admin.token,
        )
        assert status == 200
    return Org(p, name, admin, writer, reader, outsider)


@pytest.fixture
def role_org(
    start_platform: StartPlatform,
    org_store: OrgStore,
    client_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Org:
    """An org with the creds key ``role`` on a platform vending from the org store; the
    client (``SHOAL_PLATFORM_URL``, a clean config dir) pointed at that platform."""
    p = start_platform(role_creds=org_store.keys(PLATFORM), creds_ttl=60, scrypt_n=1024)
    monkeypatch.setenv("SHOAL_PLATFORM_URL", p.url)
    org = make_org(p)
    org.add_key("role", "aws-role", {"role_arn": ORG_ROLE, "endpoint_url": org_store.endpoint})
    return org
