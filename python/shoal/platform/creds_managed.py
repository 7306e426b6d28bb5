"""Short-lived credentials derived from an org's managed creds keys (:mod:`.creds_store`).

What a member gets for a location (a connected dataset's URL, or a whole store when no
location is given):

* ``aws-role``: the platform assumes the role with its own AWS credentials (``role_creds``,
  else ``storage_creds``), with an inline session policy allowing only the location's prefix
  (read-only actions for readers), through the STS of the key's ``endpoint_url``;
* ``aws-keys`` with a ``role_arn``: the stored keys assume that role, with the same policy;
* ``aws-keys`` without one: the stored keys themselves, only if the org's admin opted in for
  the key (``allow_static``); the answer then says ``scoped: false``;
* ``gcs-key``: an access token for the service account, downscoped to the prefix with a
  Credential Access Boundary (unless the server's ``gcs_downscope`` is off: then the answer
  says ``scoped: false``).

Answers are cached per (key, secret version, location, access) until half their lifetime is
gone (in the database, shared by replicas: :mod:`.grant_cache`); rotating a key changes its
version, so the next request vends from the new secret.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import ServerConfig
from .creds_store import CredsError, CredsKey
from .creds_vending import GcsVendor, Grant, VendingError, s3_policy
from .grant_cache import GrantCache

if TYPE_CHECKING:
    from .db import Database

_READ_ANYWHERE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::*"],
        }
    ],
}


@dataclass(frozen=True)
class ManagedGrant(Grant):
    """A grant from a managed key: which key, and whether it is limited to the location."""

    creds_key: str = ""
    scoped: bool = True


class StaticNotAllowed(Exception):
    """The key holds static keys its admins did not allow to be handed out."""


def _split_s3(url: str) -> tuple[str, str]:
    rest = url.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


def _cache_parts(key: CredsKey, url: str | None, write: bool) -> tuple[Any, ...]:
    """What identifies a grant from ``key``: a rotated key (a new ``updated_at``) misses."""
    return ("managed", key.org_id, key.name, key.updated_at, url, write)


class ManagedVendor:
    """Vends from managed keys; one per server."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.ttl = config.creds_ttl
        #: Set by the server to the database-backed cache shared by its replicas.
        self.cache = GrantCache()
        self._gcs: dict[tuple[int, str, float], GcsVendor] = {}

    async def close(self) -> None:
        vendors, self._gcs = list(self._gcs.values()), {}
        for v in vendors:
            await v.close()

    async def vend(
        self, key: CredsKey, url: str | None, *, write: bool, fresh: bool = False
    ) -> ManagedGrant:
        """Credentials from ``key`` for ``url`` (``None``: the whole store)."""
        return await self.cache.get_or_vend(
            _cache_parts(key, url, write),
            ManagedGrant,
            lambda: self._vend(key, url, write=write),
            fresh=fresh,
        )

    async def cached(
        self, key: CredsKey, url: str | None, *, write: bool, db: Database
    ) -> tuple[ManagedGrant, float] | None:
        """The grant :meth:`vend` has cached and when it was issued (hand it out only while
        :func:`.grant_cache.usable`); reads ``db`` (as a batch sees it, with the request's
        other lookups)."""
        return await self.cache.peek(_cache_parts(key, url, write), ManagedGrant, db)

    async def _vend(self, key: CredsKey, url: str | None, *, write: bool) -> ManagedGrant:
        s = key.secret
        if url is not None and key.kind in ("aws-keys", "aws-role") and not url.startswith("s3://"):
            raise CredsError(
                400,
                "wrong_kind",
                f"the creds key {key.name!r} holds AWS credentials, which cannot open "
                f"{url.split('://')[0]}:// locations; use a gcs-key",
            )
        if url is not None and key.kind == "gcs-key" and not url.startswith(("gcs://", "gs://")):
            raise CredsError(
                400,
                "wrong_kind",
                f"the creds key {key.name!r} holds a GCS service account, which cannot open "
                f"{url.split('://')[0]}:// locations; use an aws-keys or aws-role key",
            )
        if key.kind == "gcs-key":
            return await self._gcs_vend(key, url, write=write)
        extra = {k: s[k] for k in ("endpoint_url", "aws_region") if s.get(k)}
        if key.kind == "aws-role":
            own = self.config.role_creds or self.config.storage_creds
            caller = {
                k: own[k]
                for k in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
                if own.get(k)
            }
            if not caller:
                raise VendingError(
                    f"the creds key {key.name!r} is a role to assume, and this platform has no AWS "
                    "credentials to assume it with (role_creds or storage_creds); tell its admin"
                )
            return await self._assume(key, caller, url, write=write, extra=extra)
        keys = {
            k: s[k]
            for k in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
            if s.get(k)
        }
        if s.get("role_arn"):
            return await self._assume(key, keys, url, write=write, extra=extra)
        if not key.allow_static:
            raise StaticNotAllowed(
                f"the creds key {key.name!r} holds static AWS keys, which cannot be scoped to a "
                "dataset, and its admins did not allow handing them out; store a role_arn with "
                f"them, or `shoal creds rotate {key.name} --allow-static`"
            )
        expiration = time.time() + self.ttl
        return ManagedGrant(
            url or "",
            {**keys, **extra, "expiration": expiration},
            expiration,
            creds_key=key.name,
            scoped=False,
        )

    async def _assume(
        self,
        key: CredsKey,
        caller: dict[str, Any],
        url: str | None,
        *,
        write: bool,
        extra: dict[str, Any],
    ) -> ManagedGrant:
        from aiobotocore.session import get_session  # type: ignore[import-untyped]
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        s = key.secret
        kwargs: dict[str, Any] = {
            "RoleArn": s["role_arn"],
            "RoleSessionName": "".join(
                c if c.isalnum() or c in "=,.@-_" else "_"
                for c in f"shoal-{'w' if write else 'r'}-{key.name}"[:64]
            ),
        }
        if url is not None:
            bucket, prefix = _split_s3(url)
            kwargs["Policy"] = json.dumps(s3_policy(bucket, prefix, write=write))
        elif not write:
            kwargs["Policy"] = json.dumps(_READ_ANYWHERE)
        if s.get("external_id"):
            kwargs["ExternalId"] = s["external_id"]
        if self.ttl >= 900:
            kwargs["DurationSeconds"] = self.ttl
        client_kwargs: dict[str, Any] = {
            "region_name": s.get("aws_region") or "us-east-1",
            **caller,
        }
        if s.get("endpoint_url"):
            client_kwargs["endpoint_url"] = s["endpoint_url"]
        try:
            async with get_session().create_client("sts", **client_kwargs) as sts:
                resp = await sts.assume_role(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            # botocore's message names the operation and the error code, never a secret.
            raise VendingError(
                f"the storage refused to issue credentials for the creds key {key.name!r}: {exc}"
            ) from None
        c = resp["Credentials"]
        expiration = c["Expiration"].timestamp()
        creds = {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
            **extra,
            "expiration": expiration,
        }
        return ManagedGrant(
            url or "", creds, expiration, creds_key=key.name, scoped=url is not None
        )

    async def _gcs_vend(self, key: CredsKey, url: str | None, *, write: bool) -> ManagedGrant:
        version = (key.org_id, key.name, key.updated_at)
        vendor = self._gcs.get(version)
        if vendor is None:
            for old in [v for v in self._gcs if v[:2] == version[:2]]:
                await self._gcs.pop(old).close()
            vendor = GcsVendor(
                "gcs://managed", self.ttl, dict(key.secret), self.config.gcs_downscope
            )
            self._gcs[version] = vendor
        if url is None:
            token, lifetime = await vendor._token(write)
            expiration = time.time() + lifetime
            creds: dict[str, Any] = {"gcs_oauth_token": token, "expiration": expiration}
            if key.secret.get("endpoint_url"):
                creds["endpoint_url"] = key.secret["endpoint_url"]
            return ManagedGrant("", creds, expiration, creds_key=key.name, scoped=False)
        grant = await vendor._vend("gcs://" + url.split("://", 1)[1], write=write)
        return ManagedGrant(
            url, grant.creds, grant.expiration, creds_key=key.name, scoped=vendor.downscope
        )
