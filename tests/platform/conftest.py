"""Fixtures for the platform tests: a running platform on a free loopback port (its data and
the client's config in temp dirs), raw HTTP calls, and users with tokens; these come from
``tests/servers/platform_fixtures.py`` and every test here gets a clean client environment.

Every platform from these fixtures runs on SQLite and on PostgreSQL (a real server started once
per session; see ``platform_database``).

The s3 fixtures (SeaweedFS with STS, the loopback-only socket guard, a hermetic AWS
environment) and the gcs ones (fake-gcs-server behind a bearer-checking proxy, a fake Google
token endpoint) come from ``tests/servers/``; the servers start only for the tests that ask.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.gcs_fixtures import *  # noqa: F403
from tests.servers.platform_fixtures import *  # noqa: F403
from tests.servers.platform_fixtures import Running, StartPlatform, User, sqlite_only, unique
from tests.servers.s3_fixtures import *  # noqa: F403

__all__ = ["Running", "StartPlatform", "User", "sqlite_only", "unique"]


@pytest.fixture(autouse=True)
def _isolated_client(client_env: Path) -> Path:
    """No platform test sees the host's login, token or platform URL."""
    return client_env
