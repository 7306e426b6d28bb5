"""The real deeplake 3.9.52 client and shoal share link datasets with a managed creds key on a
``shoal serve``: deeplake reads shoal's links with credentials the platform vends, and writes
its own with ``add_creds_key(k, managed=True)``, which shoal then reads."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

import shoal
from tests.platform.dl_client import run_deeplake_client
from tests.platform.org_store import ORG, ORG_BUCKET, ORG_ROLE, PLATFORM, OrgStore, org_store
from tests.platform.orgs import make_org
from tests.platform.test_deeplake_connect import platform_7777
from tests.servers.platform_fixtures import Running

from .conftest import Images

__all__ = ["org_store", "platform_7777"]
pytestmark = pytest.mark.interop  # on port 7777: see tests/platform/deeplake_port.py
HERE = Path(__file__).resolve().parent
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

    out, proc = run_deeplake_client(
        HERE / "dl_managed_links.py", [org.writer.token, org.name, urls[1]], tmp_path / "dl-home"
    )
    assert out["managed"] == ["role"]
    assert out["sums"] == [int(images.arrays[n].astype(np.int64).sum()) for n in NAMES]
    assert out["written_shape"] == list(images.arrays[NAMES[1]].shape)
    theirs = shoal.load(f"hub://{org.name}/dl-linked", token=org.reader.token)
    assert theirs.get_managed_creds_keys() == ["role"]
    np.testing.assert_array_equal(theirs.im[0].numpy(), images.arrays[NAMES[1]])
    for secret in (ORG.secret_key, PLATFORM.secret_key):
        assert secret not in proc.stdout + proc.stderr
