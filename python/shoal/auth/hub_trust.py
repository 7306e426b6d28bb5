"""What a ``hub://`` client accepts from a platform.

A platform's ``/creds`` answer decides where a dataset's bytes go and with which
credentials. The client must not let that answer (from a rogue platform, or from anyone in
the middle of plain ``http://``) aim its own cloud login, or its own disk, at somewhere the
user did not choose. So:

* only what a platform vends is used: S3 keys (``aws_*``, plus ``endpoint_url`` and
  ``aws_region``), a GCS access token (``gcs_oauth_token``, plus ``endpoint_url``), or no
  credentials at all when reads go through the platform; never a credential *method* (like
  ``google_default``) and never an empty set that would fall back to the user's own chain;
* a local path only from a platform on this machine (the local-root mode, where server and
  client share the filesystem);
* plain ``http://`` (to the platform, or as a vended store endpoint) only to loopback,
  unless the user sets ``SHOAL_ALLOW_INSECURE_HTTP=1``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import InsecureConnectionError, UntrustedGrantError

__all__ = ["INSECURE_ENV", "VendedStore", "check_transport", "is_loopback", "vetted_store"]

#: Set to 1 to allow plain http:// to hosts that are not loopback.
INSECURE_ENV = "SHOAL_ALLOW_INSECURE_HTTP"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_S3_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_S3_EXTRA = ("endpoint_url", "aws_region")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "ip6-localhost") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(url: str, what: str) -> None:
    """Refuse plain ``http://`` to a host that is not loopback, unless opted in."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or is_loopback(parts.hostname or ""):
        return
    if os.environ.get(INSECURE_ENV, "").strip().lower() in ("1", "true", "yes"):
        return
    raise InsecureConnectionError(
        f"{what} {parts.scheme}://{parts.hostname}... uses plain http:// to a host that is not "
        "this machine: tokens and credentials would cross the network unencrypted. Use "
        f"https://, or set {INSECURE_ENV}=1 if the network is trusted"
    )


@dataclass(frozen=True)
class VendedStore:
    """A grant the client accepts: the scheme (``file``, ``s3``, ``gcs``), the location after
    the scheme, and the vended credentials (only the keys a platform vends)."""

    scheme: str
    location: str
    creds: dict[str, Any]


def vetted_store(path: str, creds: dict[str, Any], platform_url: str) -> VendedStore:
    """The grant's store, or :class:`UntrustedGrantError` saying what was refused."""
    m = _SCHEME.match(path)
    scheme = m.group(1).lower() if m else "file"
    location = path[m.end() :] if m else path
    where = f"the platform at {platform_url}"
    if scheme == "file":
        if not is_loopback(urlsplit(platform_url).hostname or ""):
            raise UntrustedGrantError(
                f"{where} answered with a local path; only a platform on this machine may keep "
                "datasets on the local filesystem"
            )
        if not os.path.isabs(location):
            raise UntrustedGrantError(f"{where} answered with a relative local path")
        return VendedStore("file", location, {})
    if scheme == "s3":
        keys = {k: creds[k] for k in _S3_KEYS if isinstance(creds.get(k), str) and creds[k]}
        if not ("aws_access_key_id" in keys and "aws_secret_access_key" in keys):
            raise UntrustedGrantError(
                f"{where} sent no S3 keys for an s3:// dataset; shoal never falls back to your "
                "own AWS credentials for a hub:// path"
            )
        return VendedStore("s3", location, {**keys, **_extra(creds, _S3_EXTRA, where)})
    if scheme in ("gcs", "gs", "gcp"):
        token = creds.get("gcs_oauth_token")
        if not isinstance(token, str) or not token:
            raise UntrustedGrantError(
                f"{where} sent no access token for a gcs:// dataset; shoal never falls back "
                "to your own Google credentials for a hub:// path"
            )
        return VendedStore(
            "gcs", location, {"gcs_oauth_token": token, **_extra(creds, ("endpoint_url",), where)}
        )
    raise UntrustedGrantError(
        f"{where} keeps the dataset at a {scheme}:// URL, which a platform never vends; ask "
        "the platform's admin which storage root it uses"
    )


def _extra(creds: dict[str, Any], names: tuple[str, ...], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = creds.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise UntrustedGrantError(f"{where} sent a {name} that is not a string")
        if name == "endpoint_url":
            if urlsplit(value).scheme.lower() not in ("http", "https"):
                raise UntrustedGrantError(f"{where} sent an endpoint_url that is not http(s)")
            check_transport(value, "the vended storage endpoint")
        out[name] = value
    return out
