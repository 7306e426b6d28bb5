"""One prefix router from a dataset path to a storage provider.

``path[@version]`` where path is a local path, ``mem://name``, or (when the matching provider is
registered) ``s3://``, ``gcs://`` / ``gs://`` or ``hub://``. Backends register themselves with
:func:`register`; an unknown ``scheme://`` is an error, never silently a local directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import PathError
from .storage import LocalStorage, MemoryStorage, Storage

#: ``factory(location, read_only=..., creds=..., token=...)`` → provider.
Factory = Callable[..., Awaitable[Storage]]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_factories: dict[str, Factory] = {}


@dataclass(frozen=True, slots=True)
class ParsedPath:
    """A dataset path split into its parts."""

    scheme: str  # "file", "mem", "s3", ...
    location: str  # what follows "scheme://" (or the local path)
    version: str | None  # branch or commit after "@", if any

    @property
    def url(self) -> str:
        return self.location if self.scheme == "file" else f"{self.scheme}://{self.location}"


def parse(path: str | os.PathLike[str]) -> ParsedPath:
    """Split ``path`` into scheme, location and an optional ``@branch``/``@commit``."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise PathError(f"a dataset path must be a str or os.PathLike, got {type(path).__name__}")
    if not path.strip():
        raise PathError("empty dataset path; pass a directory, mem://name, or s3://bucket/prefix")
    version = None
    m = _SCHEME.match(path)
    if m:
        scheme = m.group(1).lower()
        rest = path[m.end() :]
    else:
        scheme, rest = "file", path
    # "@" starts a version only in the last path segment ("dir@x/ds" is a plain directory).
    last = rest.rsplit("/", 1)[-1]
    if "@" in last:
        rest, version = rest.rsplit("@", 1)
        if not version:
            raise PathError(f"{path!r} ends with '@' but names no branch or commit")
    if scheme != "file" and not rest.strip("/"):
        raise PathError(f"{path!r} has no location after {scheme}://")
    return ParsedPath(scheme, rest, version)


def register(scheme: str, factory: Factory) -> None:
    """Route ``scheme://`` paths to ``factory``."""
    _factories[scheme] = factory


def schemes() -> list[str]:
    return sorted(_factories)


async def _local(location: str, *, read_only: bool = False, **_: Any) -> Storage:
    return LocalStorage(location, read_only=read_only)


async def _memory(location: str, *, read_only: bool = False, **_: Any) -> Storage:
    return MemoryStorage(location.strip("/"), read_only=read_only)


register("file", _local)
register("mem", _memory)

# Cloud providers are imported on first use: their client libraries are heavy, and a local
# user should not pay for them. Each module exposes ``async open_storage(location, *,
# read_only, creds, token) -> Storage``.
_MANAGED = ("s3", "gcs", "gs", "gcp")
_LAZY = {
    "s3": "shoal.storage._s3",
    "gcs": "shoal.storage._gcs",
    "gs": "shoal.storage._gcs",
    "gcp": "shoal.storage._gcs",
    "hub": "shoal.storage._hub",
}


async def open_storage(
    parsed: ParsedPath,
    *,
    read_only: bool = False,
    creds: Any = None,
    token: str | None = None,
) -> Storage:
    """The provider for ``parsed``."""
    factory = _factories.get(parsed.scheme)
    if factory is None and parsed.scheme in _LAZY:
        import importlib

        try:
            module = importlib.import_module(_LAZY[parsed.scheme])
        except ModuleNotFoundError as exc:
            raise PathError(
                f"{parsed.scheme}:// paths need the module {exc.name!r}, which is not installed; "
                "reinstall shoal with its dependencies"
            ) from None
        factory = module.open_storage
        register(parsed.scheme, factory)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted({*schemes(), *_LAZY}) if s != "file")
        raise PathError(
            f"unknown path prefix {parsed.scheme}:// in {parsed.url!r}; "
            f"use a local path or one of: {known}"
        )
    if isinstance(creds, Mapping) and "creds_key" in creds and parsed.scheme in _MANAGED:
        # creds={"creds_key": ..., "org_id": ...}: the platform vends for the org's key
        from .storage._managed import open_managed, split_managed

        managed = split_managed(creds, None)
        assert managed is not None
        return await open_managed(
            parsed.scheme, parsed.location, managed, read_only=read_only, token=token
        )
    return await factory(parsed.location, read_only=read_only, creds=creds, token=token)
