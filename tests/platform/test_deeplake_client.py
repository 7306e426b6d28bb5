"""The real deeplake 3.9.52 client against the platform: with a shoal token it creates, writes,
loads and reads a hub:// dataset, reads one shoal wrote, renames and deletes, and gets the right
errors for another org's dataset and a bad token.

deeplake hard-codes ``http://localhost:7777`` for its local backend, so this test needs that
port and fails (does not skip) with a clear message when something else holds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.platform.config import ServerConfig
from shoal.platform.server import BackgroundServer
from tests.servers.s3_fixtures import ROLE_RW

from .conftest import Running, unique
from .deeplake_port import deeplake_port
from .dl_client import DL_PYTHON, run_deeplake_client

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.interop


@pytest.fixture(params=["local", "s3"])
def platform_7777(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Running]:
    """The platform on 127.0.0.1:7777, with a local storage root or one on SeaweedFS (STS)."""
    if not (DL_PYTHON.is_file() and os.access(DL_PYTHON, os.X_OK)):
        pytest.fail(
            f"no deeplake 3.9.52 python at {DL_PYTHON}: run .ci/setup-deeplake-venv", pytrace=False
        )
    with deeplake_port() as port:
        yield from _platform(request, tmp_path, monkeypatch, port)


def _platform(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int
) -> Iterator[Running]:
    storage: dict[str, Any] = {}
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_server")
        storage = {
            "storage_root": f"s3://{s3.bucket}/{unique('dl')}",
            "storage_creds": s3.creds(),
            "sts_role_arn": ROLE_RW,
            "creds_ttl": 60,
        }
    config = ServerConfig.load(
        None,
        env={},
        data_dir=str(tmp_path / "data"),
        port=port,
        log_level="warning",
        **storage,
    )
    with BackgroundServer(config) as server:
        monkeypatch.setenv("SHOAL_PLATFORM_URL", server.url)
        yield Running(server, config)


def test_deeplake_client_uses_the_platform(platform_7777: Running, tmp_path: Path) -> None:
    p = platform_7777
    alice, bob = p.user("alice"), p.user("bob")
    # shoal writes one dataset through the platform for deeplake to read.
    ds = shoal.empty("hub://alice/from-shoal", token=alice.token)
    ds.create_tensor("nums", htype="generic", dtype="int64")
    ds.nums.extend(np.arange(6, dtype=np.int64))
    p.call("POST", "/api/user/tokens", {"name": "gone"}, token=alice.token)
    _, revoked = p.call("POST", "/api/user/tokens", {"name": "gone2"}, token=alice.token)
    p.call("DELETE", "/api/user/tokens/gone2", token=alice.token)

    out, _ = run_deeplake_client(
        HERE / "dl_hub.py",
        [alice.token, bob.token, revoked["token"], "alice"],
        tmp_path / "dl-home",
        isolate_aws=False,
    )
    assert out["read_back"] == np.arange(12, dtype=np.float32).reshape(4, 3).tolist()
    assert out["read_only_flag"] is True
    assert out["shoal_written"] == list(range(6))
    # Another org's dataset: a permission error carrying the platform's message.
    assert out["other_org"]["error"] in ("TokenPermissionError", "AuthorizationException")
    assert "not a member of organization 'alice'" in out["other_org"]["message"]
    # A revoked token: the profile call gets 401.
    assert out["bad_token"]["error"] == "AuthenticationException"
    assert out["renamed_len"] == 2 and out["deleted"] is True

    # shoal reads what deeplake wrote; deeplake's create, rename and delete reached the platform.
    got = shoal.load("hub://alice/from-deeplake", read_only=True, token=alice.token)
    np.testing.assert_array_equal(got.vec.numpy(), np.arange(12, dtype=np.float32).reshape(4, 3))
    np.testing.assert_array_equal(got.labels.numpy().ravel(), [0, 1, 1, 0])
    status, listing = p.call("GET", "/api/org/alice/datasets", token=alice.token)
    assert status == 200
    assert sorted(d["name"] for d in listing["datasets"]) == ["from-deeplake", "from-shoal"]
    assert not shoal.exists("hub://alice/renamed-by-deeplake", token=alice.token)
    assert not shoal.exists("hub://alice/scratch", token=alice.token)
