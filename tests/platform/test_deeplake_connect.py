"""The real deeplake 3.9.52 client with managed credentials: ``deeplake.connect``, loading the
connected hub:// dataset, ``creds={"creds_key": ...}`` with ``org_id`` and ``ds.connect`` all
work through the platform, on a SeaweedFS bucket only the org's role reaches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal.platform.config import ServerConfig
from shoal.platform.server import BackgroundServer

from .conftest import Running
from .deeplake_port import deeplake_port
from .dl_client import DL_PYTHON, run_deeplake_client
from .org_store import ORG, ORG_BUCKET, ORG_ROLE, PLATFORM, OrgStore, org_store
from .orgs import make_org
from .test_deeplake_client import HERE

__all__ = ["org_store"]

pytestmark = pytest.mark.interop


@pytest.fixture
def platform_7777(
    tmp_path: Path, org_store: OrgStore, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Running]:
    if not (DL_PYTHON.is_file() and os.access(DL_PYTHON, os.X_OK)):
        pytest.fail(f"no deeplake 3.9.52 python at {DL_PYTHON}", pytrace=False)
    with deeplake_port() as port:
        config = ServerConfig.load(
            None,
            env={},
            data_dir=str(tmp_path / "data"),
            port=port,
            log_level="warning",
            role_creds=org_store.keys(PLATFORM),
            creds_ttl=60,
            scrypt_n=1024,
        )
        with BackgroundServer(config) as server:
            monkeypatch.setenv("SHOAL_PLATFORM_URL", server.url)
            yield Running(server, config)


def test_deeplake_connects_and_loads(
    platform_7777: Running, org_store: OrgStore, tmp_path: Path
) -> None:
    org = make_org(platform_7777)
    org.add_key("role", "aws-role", {"role_arn": ORG_ROLE, "endpoint_url": org_store.endpoint})
    src, src2 = (f"s3://{ORG_BUCKET}/{org.name}/{n}" for n in ("conn", "direct"))
    for url in (src, src2):
        ds = shoal.empty(url, creds=org_store.keys(ORG))
        ds.create_tensor("x", htype="generic", dtype="int32")
        ds.x.extend(np.arange(6, dtype=np.int32).reshape(2, 3))
    out, proc = run_deeplake_client(
        HERE / "dl_connect.py", [org.writer.token, org.name, src, src2], tmp_path / "dl-home"
    )
    assert out["connected_path"] == f"hub://{org.name}/conn"
    assert out["connected_x"] == out["hub_x"] == [[0, 1, 2], [3, 4, 5]]
    assert out["direct_len"] == 2 and out["conn2_len"] == 2
    assert out["missing_key"]["error"] == "ManagedCredentialsNotFoundError"
    for secret in (ORG.secret_key, PLATFORM.secret_key):
        assert secret not in proc.stdout + proc.stderr
