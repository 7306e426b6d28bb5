"""Connecting a dataset in an organization's own bucket to the platform, as ``deeplake`` does:
the platform call behind ``shoal.connect(src_path, creds_key, ...)`` and ``ds.connect(...)``.

The platform records ``hub://org/name`` for the data at ``src_path`` and from then on vends
credentials for it from the org's creds key, so ``shoal.load("hub://org/name")`` opens it with
no cloud keys in the user's code. The data stays where it is; deleting the ``hub://`` dataset
removes the entry only (delete through the ``s3://``/``gcs://`` path to remove the data).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidRequestError, PathError
from .platform_api import PlatformClient
from .platform_names import parse_hub_path

__all__ = ["connect_path_async"]

_CLOUD = ("s3://", "gcs://", "gs://")


async def connect_path_async(
    src_path: str,
    creds_key: str,
    dest_path: str | None = None,
    org_id: str | None = None,
    ds_name: str | None = None,
    token: str | None = None,
) -> str:
    """Register ``src_path`` on the platform; the new ``hub://org/name`` path."""
    src = os.fspath(src_path)
    if not src.startswith(_CLOUD):
        raise PathError(
            f"only s3:// and gcs:// datasets can be connected, not {src[:80]!r}"
            + ("; it is on the platform already" if src.startswith("hub://") else "")
        )
    if not creds_key:
        raise InvalidRequestError(
            "connecting needs creds_key=: the org's creds key that reaches the data "
            "(see `shoal creds list --org ORG`)"
        )
    if dest_path is not None:
        org, name = parse_hub_path(dest_path)[:2]
        if org_id is not None and org_id != org:
            raise PathError(f"dest_path {dest_path!r} is not in org_id {org_id!r}")
        org_id, ds_name = org, name
    if not org_id:
        raise InvalidRequestError("say where to connect it: dest_path='hub://org/name' or org_id=")
    body: dict[str, Any] = {"src_path": src, "org_id": org_id, "creds_key": creds_key}
    if ds_name:
        body["ds_name"] = ds_name
    answer = await PlatformClient(None, token).request("POST", "/api/dataset/connect", body=body)
    return f"hub://{answer['generated_id']}"
