"""The real deeplake 3.9.52 client and shoal share link datasets with a managed creds key on a
``shoal serve``: deeplake reads shoal's links with credentials the platform vends, and writes
its own with ``add_creds_key(k, managed=True)``, which shoal then reads."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

import shoal
from tests.platform.org_store import ORG, ORG_BUCKET, ORG_ROLE, PLATFORM, OrgStore, org_store
from tests.platform.test_creds_vending_managed import make_org
from tests.platform.test_deeplake_connect import platform_7777
from tests.servers.platform_fixtures import Running

from .conftest import Images

__all__ = ["org_store", "platform_7777"]
pytestmark = pytest.mark.interop
HERE = Path(__file__).resolve().parent
DL_PYTHON = HERE.parent.parent / ".venvs" / "deeplake" / "bin" / "python"
NAMES = ["img1.png", "img3.png"]


def test_deeplake_reads_and_writes_managed_links(
    platform_7777: Running, org_store: OrgStore, images: Images, tmp_path: Path
) -> None:
    org = make_org(platform_7777)
    org.add_key("role", "aws-role", {"role_arn": ORG_ROLE, "endpoint_url": org_store.endpoint})
    prefix = f"files/{uuid.uuid4().hex[:8]}"
    s3 = org_store.client(org_store.keys(ORG))
    for n in NAMES:
        s3.put_object(Bucket=ORG_BUCKET, Key=f"{prefix}/{n}", Body=images.data(n))
    urls = [f"s3://{ORG_BUCKET}/{prefix}/{n}" for n in NAMES]
    ds = shoal.empty(f"hub://{org.name}/linked", token=org.writer.token)
    ds.create_tensor("im", htype="link[image]", sample_compression="png")
    ds.add_creds_key("role", managed=True)
    ds.im.extend([shoal.link(u, creds_key="role") for u in urls])

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "ACTIVELOOP", "VIRTUAL_ENV", "AWS_"))
    }
    env.update(
        {
            "HOME": str(tmp_path / "dl-home"),
            "SHOAL_DEEPLAKE_HOME": str(tmp_path / "dl-home"),
            "BUGGER_OFF": "yes",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "NO_PROXY": "*",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    proc = subprocess.run(
        [str(DL_PYTHON), str(HERE / "dl_managed_links.py"), org.writer.token, org.name, urls[1]],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "blocked" not in out, out["blocked"]
    assert out["managed"] == ["role"]
    assert out["sums"] == [int(images.arrays[n].astype(np.int64).sum()) for n in NAMES]
    assert out["written_shape"] == list(images.arrays[NAMES[1]].shape)
    theirs = shoal.load(f"hub://{org.name}/dl-linked", token=org.reader.token)
    assert theirs.get_managed_creds_keys() == ["role"]
    np.testing.assert_array_equal(theirs.im[0].numpy(), images.arrays[NAMES[1]])
    for secret in (ORG.secret_key, PLATFORM.secret_key):
        assert secret not in proc.stdout + proc.stderr
