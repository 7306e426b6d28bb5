"""``s3://`` and ``gcs://`` datasets opened with an organization's managed credentials:
``shoal.load("s3://bucket/ds", creds={"creds_key": "k"}, org_id="org")``.

The platform (``GET /api/org/{org}/storage/name?query=k&path=...``) vends short-lived
credentials from the creds key, limited to the dataset's location (read-only ones for a
reader of the org, or when opening read-only), and they are fetched again before they expire.
No cloud key is in the user's code or on the user's machine.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import weakref
from collections.abc import Mapping
from typing import Any

from ..auth.hub_trust import vetted_store
from ..auth.platform_api import PlatformClient
from ..auth.platform_names import check_name
from ..errors import InvalidCredsError
from ._base import Storage

__all__ = ["ManagedSource", "managed_source_of", "open_managed", "split_managed"]

log = logging.getLogger("shoal.storage.managed")

#: Which creds key and org opened a store (``ds.connect()`` reuses them).
_sources: weakref.WeakKeyDictionary[Storage, ManagedSource] = weakref.WeakKeyDictionary()


def split_managed(creds: object, org_id: str | None) -> dict[str, str] | None:
    """``{"creds_key", "org_id"}`` if ``creds`` names a managed key, else ``None``."""
    if not isinstance(creds, Mapping) or "creds_key" not in creds:
        if org_id is not None:
            raise InvalidCredsError(
                "org_id= is for managed credentials: pass creds={'creds_key': 'NAME'} with it"
            )
        return None
    extra = sorted(k for k in creds if k not in ("creds_key", "org_id"))
    if extra:
        raise InvalidCredsError(
            f"creds={{'creds_key': ...}} takes no other keys (got {', '.join(map(repr, extra))}); "
            "the platform supplies the credentials"
        )
    key = creds["creds_key"]
    org = org_id or creds.get("org_id")
    if not isinstance(key, str) or not key:
        raise InvalidCredsError("creds_key must be the name of a creds key stored on the platform")
    if not isinstance(org, str) or not org:
        raise InvalidCredsError(
            f"the creds key {key!r} is managed by an organization: pass org_id='ORG' too"
        )
    return {"creds_key": key, "org_id": org}


class ManagedSource:
    """Credentials from one creds key for one location, fetched from the platform."""

    def __init__(self, client: PlatformClient, org: str, key: str, url: str, mode: str) -> None:
        self.client = client
        self.org, self.key, self.url, self.mode = org, key, url, mode
        self._first: dict[str, Any] | None = None
        self.fetches = 0
        #: when the credentials of the first answer expire (epoch seconds; None: not said)
        self.expiration: float | None = None

    async def fetch(self, *, fresh: bool = False) -> dict[str, Any]:
        self.fetches += 1
        params = {
            "query": self.key,
            "path": self.url,
            "mode": self.mode,
            "no_cache": "true" if fresh else "false",
        }
        return await self.client.request(
            "GET", f"/api/org/{check_name(self.org)}/storage/name", params=params
        )

    async def s3_refresh(self) -> Mapping[str, Any]:
        """Session credentials as :mod:`shoal.auth.aws` refreshes them."""
        answer, self._first = self._first, None
        if answer is None or answer["creds"].get("expiration", 0) - time.time() < 60:
            answer = await self.fetch(fresh=True)
        c = answer["creds"]
        expiry = float(c.get("expiration") or time.time() + 3600)
        return {
            "access_key": c.get("aws_access_key_id"),
            "secret_key": c.get("aws_secret_access_key"),
            "token": c.get("aws_session_token"),
            "expiry_time": dt.datetime.fromtimestamp(expiry, dt.UTC).isoformat(),
        }

    async def gcs_refresh(self) -> Mapping[str, Any]:
        answer, self._first = self._first, None
        if answer is None or answer["creds"].get("expiration", 0) - time.time() < 60:
            answer = await self.fetch(fresh=True)
        c = answer["creds"]
        return {k: c[k] for k in ("gcs_oauth_token", "endpoint_url", "expiration") if k in c}


def managed_source_of(storage: Storage) -> ManagedSource | None:
    return _sources.get(storage)


async def open_managed(
    scheme: str,
    location: str,
    managed: Mapping[str, str],
    *,
    read_only: bool,
    token: str | None = None,
    client: PlatformClient | None = None,
) -> Storage:
    """The store at ``scheme://location`` with credentials vended from the managed key
    (through ``client``, or a client for ``token``)."""
    scheme = "gcs" if scheme in ("gs", "gcp") else scheme
    url = f"{scheme}://{location.strip('/')}"
    client = client or PlatformClient(None, token)
    source = ManagedSource(
        client, managed["org_id"], managed["creds_key"], url, "r" if read_only else "w"
    )
    answer = await source.fetch()
    if not read_only and answer.get("mode") == "r":
        log.warning("%s opens read-only: your role in %r only reads", url, source.org)
        read_only = True
    source._first = answer
    expiry = answer.get("expiration") or answer["creds"].get("expiration")
    source.expiration = float(expiry) if expiry else None
    vended = vetted_store(url, answer["creds"], client.url)
    store: Storage
    if vended.scheme == "s3":
        from ._s3 import S3Storage
        from ._s3_options import parse_location

        bucket, prefix = parse_location(vended.location)
        if vended.creds.get("aws_session_token"):
            extra = {
                k: vended.creds[k] for k in ("endpoint_url", "aws_region") if k in vended.creds
            }
            store = await S3Storage.open(
                bucket, prefix, creds=extra or None, read_only=read_only, refresh=source.s3_refresh
            )
        else:  # static keys the org's admin allowed to be handed out
            store = await S3Storage.open(bucket, prefix, creds=vended.creds, read_only=read_only)
    else:
        from ._gcs import GcsStorage

        store = await GcsStorage.open(
            vended.location,
            read_only=read_only,
            creds=await source.gcs_refresh(),
            refresh=source.gcs_refresh,
        )
    _sources[store] = source
    return store
