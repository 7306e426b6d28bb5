"""The aiobotocore clients of the S3 provider: built once per process and loop, shared by opens.

Building a client costs about 45 ms (an ``AioSession``, the credential chain, the client
class, and on its first request the endpoint ruleset); opening a dataset twice in a process
must not pay it twice. Clients live in one :class:`~shoal.storage._cloud.ClientCache`, keyed
by everything that makes two opens interchangeable:

* the endpoint, the region asked for, the profile (whose config may name an endpoint) and
  the client settings (timeouts, pool size);
* the credentials' identity: the key id and a digest of the secret and token for fixed keys
  (from ``creds`` or found by the default chain), the refresher object for vended ones, the
  credentials object itself for refreshable chain credentials (each open resolves its own);
* a fingerprint of the ``AWS_*`` environment and of the AWS config files (path, size, mtime),
  which decide the region and endpoint botocore picks when ``creds`` does not say.

With fixed keys or a refresher the key is known before resolving anything, so a second open
skips the credential chain and the session entirely: it costs a dictionary lookup.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.parse
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, NoRegionError  # type: ignore[import-untyped]

from .._secrets import scrub
from ..auth import aws
from ..errors import StorageError
from ._base import on_loopback
from ._cloud import ClientCache, Lease

if TYPE_CHECKING:
    from ._s3_options import S3Options

__all__ = ["PooledS3", "lease_for_resolved", "lease_for_spec"]


@dataclass(frozen=True, slots=True)
class PooledS3:
    """A client and the credentials it signs with."""

    resolved: aws.ResolvedAws
    client: Any


_clients: ClientCache[PooledS3] = ClientCache("s3")


def _digest(*parts: str | None) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update((p or "").encode() + b"\0")
    return h.hexdigest()


def _environment() -> str:
    """A digest of what botocore reads to pick a region and an endpoint: ``AWS_*`` variables
    and the config files (a change of either means a new client)."""
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))
    files = []
    for name, default in (
        ("AWS_CONFIG_FILE", "~/.aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    ):
        path = os.path.expanduser(os.environ.get(name, default))
        try:
            st = os.stat(path)
            files.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            files.append(f"{path}:-")
    return _digest(*(f"{k}={v}" for k, v in env), *files)


def _settings(options: S3Options) -> tuple[Any, ...]:
    return (options.connect_timeout, options.read_timeout, options.concurrency)


def _static_identity(creds: Any) -> Hashable:
    return ("keys", creds.access_key, _digest(creds.secret_key, creds.token))


async def lease_for_spec(
    spec: aws.AwsCredsSpec, refresh: aws.Refresher | None, options: S3Options, url: str
) -> Lease[PooledS3] | None:
    """The pooled client for explicit keys or a refresher (``None`` for the default chain,
    whose credentials must be resolved first: see :func:`lease_for_resolved`)."""
    if refresh is not None:
        identity: Hashable = ("vended", refresh)
    elif spec.has_keys:
        identity = ("keys", spec.access_key_id, _digest(spec.secret_access_key, spec.session_token))
    else:
        return None
    key = (
        spec.endpoint_url,
        spec.region,
        spec.profile,
        identity,
        _settings(options),
        _environment(),
    )

    async def make(stack: contextlib.AsyncExitStack) -> PooledS3:
        resolved = await aws.resolve(spec, path=url, refresh=refresh)
        return PooledS3(resolved, await _connect(stack, resolved, options, url))

    # A client keyed by a refresher serves only the stores opened with that refresher: once
    # they let go, it is closed rather than kept idle, which would keep the refresher (and
    # the platform client it asks) alive for nothing.
    return await _clients.acquire(key, make, keep_idle=refresh is None)


async def lease_for_resolved(
    resolved: aws.ResolvedAws, options: S3Options, url: str
) -> Lease[PooledS3]:
    """The pooled client for credentials already resolved (the default chain)."""
    creds = resolved.credentials
    identity = (
        ("chain", creds)
        if isinstance(creds, aws.AdaptiveRefreshableCredentials) or creds is None
        else _static_identity(creds)
    )
    # the source names the profile, whose config may set the endpoint
    where = (resolved.endpoint_url, resolved.region, resolved.source)
    key = (*where, identity, _settings(options), _environment())

    async def make(stack: contextlib.AsyncExitStack) -> PooledS3:
        return PooledS3(resolved, await _connect(stack, resolved, options, url))

    return await _clients.acquire(key, make)


def _body_integrity_elsewhere(endpoint_url: str | None) -> bool:
    """Whether request bodies are safe in transit without a payload hash in the signature:
    TLS guards them (https, AWS's default endpoint), or they never leave this machine
    (loopback). Plain http to another host keeps botocore's signed payloads."""
    if not endpoint_url:
        return True
    return urllib.parse.urlsplit(endpoint_url).scheme == "https" or on_loopback(endpoint_url)


async def _connect(
    stack: contextlib.AsyncExitStack, resolved: aws.ResolvedAws, options: S3Options, url: str
) -> Any:
    s3_config: dict[str, Any] = {"addressing_style": "path" if resolved.endpoint_url else "auto"}
    if _body_integrity_elsewhere(resolved.endpoint_url):
        # botocore otherwise hashes every request body (sha256, about 30 ms per 8 MB chunk on
        # the event loop's thread) to sign it
        s3_config["payload_signing_enabled"] = False
    config = AioConfig(
        region_name=resolved.region,
        signature_version="s3v4",
        s3=s3_config,
        retries={"total_max_attempts": 1},  # retries are the provider's (one policy)
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        max_pool_connections=options.concurrency,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        tcp_keepalive=True,
    )
    try:
        return await stack.enter_async_context(
            resolved.session.create_client("s3", endpoint_url=resolved.endpoint_url, config=config)
        )
    except (NoRegionError, ValueError, BotoCoreError) as exc:
        raise StorageError(
            f"cannot set up the S3 client for {url}: {scrub(str(exc))}; check "
            "creds['endpoint_url'] and creds['aws_region']"
        ) from None
