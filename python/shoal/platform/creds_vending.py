"""Short-lived credentials for one dataset's prefix of the platform's storage root.

A :class:`Vendor` knows the root, where a dataset lives under it (:meth:`Vendor.dataset_url`)
and how to hand a client credentials for exactly that prefix (:meth:`Vendor.vend`):

* a local directory: the path; no credentials (the client shares the server's filesystem);
* ``s3://`` with ``s3_vending = "sts"``: STS AssumeRole of ``sts_role_arn`` with an inline
  session policy that allows only the dataset's prefix (read-only actions for readers);
* ``s3://`` with ``s3_vending = "static"`` (a store without STS): writers get the server's
  own keys (not scoped, so the config must opt in); readers and anonymous callers never do:
  their grant says ``"read_via": "platform"`` and they read through the platform's object
  endpoints (:mod:`.routes_objects`), which fetch with the server's keys;
* ``gcs://``: an access token for the server's credentials, downscoped to the prefix with a
  Credential Access Boundary (Google STS token exchange) unless ``gcs_downscope = false``.

The credentials dict has the keys of a ``creds=`` argument plus ``expiration`` (epoch
seconds), which is what the ``deeplake`` client expects. Vended S3 and GCS credentials are
cached per (dataset, access) until half their lifetime is gone, so clients opening the same
dataset do not each cost an STS call; ``fresh=True`` skips the cache. The server's cache is
in its database (:mod:`.grant_cache`), shared by its replicas.

New kinds of store plug in by subclassing :class:`Vendor` and extending :func:`make_vendor`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import os
import posixpath
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import routing
from ..errors import PlatformConfigError, PlatformError
from .config import ServerConfig
from .grant_cache import GrantCache

if TYPE_CHECKING:
    from ..storage._base import Storage

_S3_READ = ["s3:GetObject"]
_S3_WRITE = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]
_GCS_STS_URL = "https://sts.googleapis.com/v1/token"


@dataclass(frozen=True)
class Grant:
    """Where a dataset lives and the credentials to reach it."""

    path: str
    creds: dict[str, Any] = field(repr=False)
    expiration: float
    #: No credentials: reads go through the platform's object endpoints.
    proxied: bool = False


class VendingError(PlatformError):
    """The store refused to issue credentials (STS down, role not assumable, ...)."""


class Vendor(abc.ABC):
    """Credentials for dataset prefixes under one storage root."""

    kind: str = "?"

    def __init__(self, root: str, ttl: int) -> None:
        self.root = root.rstrip("/")
        self.ttl = ttl
        #: Set by the server to the database-backed cache shared by its replicas.
        self.cache = GrantCache()

    def dataset_url(self, org: str, name: str, suffix: int = 0) -> str:
        """Where a new dataset ``org/name`` goes (``suffix`` > 0: the n-th alternative, when
        the plain one is still used by a renamed dataset)."""
        leaf = name if suffix == 0 else f"{name}~{suffix}"
        if routing.parse(self.root).scheme == "file":
            return os.path.join(self.root, org, leaf)
        return posixpath.join(self.root, org, leaf)

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Check the root is usable; called once at startup."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""

    async def reader(self, url: str) -> Storage | None:
        """A read-only store for the dataset at ``url``, opened with the server's own
        credentials, for vendors whose read grants are ``proxied``; ``None`` for the others."""
        return None

    async def vend(self, url: str, *, write: bool, fresh: bool = False) -> Grant:
        """Credentials for ``url`` (a dataset under the root), cached until half-life."""
        return await self.cache.get_or_vend(
            ("root", self.root, url, write),
            Grant,
            lambda: self._vend(url, write=write),
            fresh=fresh,
        )

    @abc.abstractmethod
    async def _vend(self, url: str, *, write: bool) -> Grant: ...


class LocalVendor(Vendor):
    """A directory on the server's (shared) filesystem: the path is all a client needs."""

    kind = "local"

    async def start(self) -> None:
        os.makedirs(self.root, exist_ok=True)

    async def vend(self, url: str, *, write: bool, fresh: bool = False) -> Grant:
        return await self._vend(url, write=write)

    async def _vend(self, url: str, *, write: bool) -> Grant:
        return Grant(url, {}, time.time() + self.ttl)


def _split_s3(url: str) -> tuple[str, str]:
    rest = url.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


def s3_policy(bucket: str, prefix: str, *, write: bool) -> dict[str, Any]:
    """An inline session policy allowing only ``bucket/prefix/`` (the whole bucket for an
    empty prefix: links to files anywhere in it)."""
    if not prefix:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": _S3_WRITE if write else _S3_READ,
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}"],
                },
            ],
        }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": _S3_WRITE if write else _S3_READ,
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}},
            },
        ],
    }


class _S3Base(Vendor):
    kind = "s3"

    def __init__(self, root: str, ttl: int, creds: dict[str, Any]) -> None:
        super().__init__(root, ttl)
        self.endpoint_url = creds.get("endpoint_url")
        self.region = creds.get("aws_region") or creds.get("region") or "us-east-1"
        self._keys = {
            k: creds[k]
            for k in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
            if creds.get(k)
        }

    def _client_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"aws_region": self.region}
        if self.endpoint_url:
            extra["endpoint_url"] = self.endpoint_url
        return extra


class S3StaticVendor(_S3Base):
    """``s3_vending = "static"``, for a store without STS: writers get the server's own keys
    (unscoped: the config opts in to that); readers get no keys at all, and read through the
    platform (:meth:`reader`), so a public dataset never hands the keys to anyone."""

    def __init__(self, root: str, ttl: int, creds: dict[str, Any]) -> None:
        super().__init__(root, ttl, creds)
        self._readers: dict[str, Storage] = {}

    async def _vend(self, url: str, *, write: bool) -> Grant:
        expiration = time.time() + self.ttl
        if not write:
            return Grant(url, {}, expiration, proxied=True)
        return Grant(
            url, {**self._keys, **self._client_extra(), "expiration": expiration}, expiration
        )

    async def reader(self, url: str) -> Storage | None:
        store = self._readers.get(url)
        if store is None:
            from ..storage._s3 import S3Storage

            bucket, prefix = _split_s3(url)
            creds = {**self._keys, **self._client_extra()}
            store = await S3Storage.open(bucket, prefix, creds=creds, read_only=True)
            if len(self._readers) > 1000:
                self._readers.clear()
            self._readers[url] = store
        return store

    async def close(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for store in readers:
            await store.close()


class S3StsVendor(_S3Base):
    """AssumeRole with a per-dataset inline policy, through aiobotocore."""

    def __init__(self, root: str, ttl: int, creds: dict[str, Any], role_arn: str) -> None:
        super().__init__(root, ttl, creds)
        if not role_arn:
            raise PlatformConfigError(
                f"storage_root {root} is on S3 with s3_vending='sts' but sts_role_arn is not set; "
                "set the role to assume (or s3_vending='static' for a store without STS)"
            )
        self.role_arn = role_arn
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _sts(self) -> Any:
        async with self._lock:
            if self._client is None:
                from aiobotocore.session import get_session  # type: ignore[import-untyped]

                kwargs: dict[str, Any] = {"region_name": self.region, **self._keys}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                self._client = await self._stack.enter_async_context(
                    get_session().create_client("sts", **kwargs)
                )
            return self._client

    async def close(self) -> None:
        self._client = None
        await self._stack.aclose()

    async def _vend(self, url: str, *, write: bool) -> Grant:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        bucket, prefix = _split_s3(url)
        session = ("shoal-" + ("w-" if write else "r-") + prefix.replace("/", "-"))[:64]
        session = "".join(c if c.isalnum() or c in "=,.@-_" else "_" for c in session)
        try:
            client = await self._sts()
            kwargs: dict[str, Any] = {
                "RoleArn": self.role_arn,
                "RoleSessionName": session,
                "Policy": json.dumps(s3_policy(bucket, prefix, write=write)),
            }
            # STS refuses DurationSeconds under 900; a shorter creds_ttl leaves the lifetime
            # to the store's default (the answer's Expiration is what counts either way).
            if self.ttl >= 900:
                kwargs["DurationSeconds"] = self.ttl
            resp = await client.assume_role(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            # The botocore message names the operation and error code, never a secret.
            raise VendingError(f"the storage refused to issue credentials: {exc}") from None
        c = resp["Credentials"]
        expiration = c["Expiration"].timestamp()
        creds = {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
            **self._client_extra(),
            "expiration": expiration,
        }
        return Grant(url, creds, expiration)


class GcsVendor(Vendor):
    """Access tokens for the server's Google credentials, downscoped to the dataset prefix."""

    kind = "gcs"

    def __init__(self, root: str, ttl: int, creds: dict[str, Any], downscope: bool) -> None:
        super().__init__(root, ttl)
        self._creds = dict(creds)
        self.endpoint_url = self._creds.get("endpoint_url")
        self.downscope = downscope
        self._stack = contextlib.AsyncExitStack()
        self._auth: dict[bool, Any] = {}
        self._http: Any = None

    async def _token(self, write: bool) -> tuple[str, float]:
        import aiohttp

        from ..auth import gcs as gcs_auth

        if self._http is None:
            self._http = await self._stack.enter_async_context(aiohttp.ClientSession())
        if write not in self._auth:
            spec = gcs_auth.GcsCredsSpec.parse(self._creds or None, path=self.root)
            auth = await gcs_auth.resolve(spec, self._http, read_only=not write, path=self.root)
            self._stack.push_async_callback(auth.close)
            self._auth[write] = auth
        auth = self._auth[write]
        token = await auth.token()
        # How long the token stays good: GcsAuth keeps it until shortly before it expires.
        return str(token), min(auth.valid_for(), float(self.ttl))

    async def _downscoped(
        self, token: str, bucket: str, prefix: str, write: bool
    ) -> tuple[str, float]:
        role = "inRole:roles/storage.objectAdmin" if write else "inRole:roles/storage.objectViewer"
        rule: dict[str, Any] = {
            "availablePermissions": [role],
            "availableResource": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        }
        if prefix:  # none: the whole bucket (links to files anywhere in it)
            rule["availabilityCondition"] = {
                "expression": (
                    f"resource.name.startsWith('projects/_/buckets/{bucket}/objects/"
                    f"{prefix}/') || api.getAttribute("
                    f"'storage.googleapis.com/objectListPrefix', '').startsWith("
                    f"'{prefix}/')"
                )
            }
        boundary = {"accessBoundary": {"accessBoundaryRules": [rule]}}
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": token,
            "options": json.dumps(boundary),
        }
        url = os.environ.get("SHOAL_GCS_STS_URI", _GCS_STS_URL)
        async with self._http.post(url, data=form) as resp:
            if resp.status != 200:
                raise VendingError(f"Google STS refused to downscope a token (HTTP {resp.status})")
            body = await resp.json()
        return str(body["access_token"]), float(body.get("expires_in", self.ttl))

    async def _vend(self, url: str, *, write: bool) -> Grant:
        token, lifetime = await self._token(write)
        if self.downscope:
            rest = url.split("://", 1)[1]
            bucket, _, prefix = rest.partition("/")
            token, lifetime = await self._downscoped(token, bucket, prefix.strip("/"), write)
        lifetime = min(lifetime, float(self.ttl))
        expiration = time.time() + lifetime
        creds: dict[str, Any] = {"gcs_oauth_token": token}
        if self.endpoint_url:
            creds["endpoint_url"] = self.endpoint_url
        creds["expiration"] = expiration
        return Grant(url, creds, expiration)

    async def close(self) -> None:
        self._auth.clear()
        self._http = None
        await self._stack.aclose()


def make_vendor(config: ServerConfig) -> Vendor:
    """The vendor for ``config.root``."""
    root = config.root
    scheme = routing.parse(root).scheme
    if scheme == "file":
        return LocalVendor(os.path.abspath(os.path.expanduser(root)), config.creds_ttl)
    if scheme == "s3":
        if config.s3_vending == "static":
            return S3StaticVendor(root, config.creds_ttl, config.storage_creds)
        return S3StsVendor(root, config.creds_ttl, config.storage_creds, config.sts_role_arn)
    if scheme in ("gcs", "gs"):
        return GcsVendor(
            "gcs://" + root.split("://", 1)[1],
            config.creds_ttl,
            config.storage_creds,
            config.gcs_downscope,
        )
    raise PlatformConfigError(
        f"storage_root {root!r} is not supported; use a directory, s3://bucket/prefix or "
        "gcs://bucket/prefix"
    )
