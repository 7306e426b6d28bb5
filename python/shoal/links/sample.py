"""What users append to a link tensor: ``shoal.link(url, creds_key=None)``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import SampleError

#: URL prefixes of objects read through a cloud store (and so needing a creds key).
CLOUD_PREFIXES = ("s3://", "gcs://", "gs://", "gcp://", "az://", "azure://")
HTTP_PREFIXES = ("http://", "https://")


@dataclass(frozen=True)
class LinkedSample:
    """A sample that is the file at ``path`` (a local path, ``s3://``, ``gcs://`` or
    ``http(s)://`` URL), read with the credentials of ``creds_key``."""

    path: str
    creds_key: str | None = None

    def __repr__(self) -> str:
        key = f", creds_key={self.creds_key!r}" if self.creds_key else ""
        return f"LinkedSample({self.path!r}{key})"


def link(path: str | os.PathLike[str], creds_key: str | None = None) -> LinkedSample:
    """A linked sample: append it to a ``link[...]`` tensor to store the URL, not the data.
    ``creds_key`` names the dataset's creds key (``ds.add_creds_key``) it is read with;
    cloud URLs need one."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise SampleError(f"shoal.link takes a non-empty path or URL, got {path!r}")
    if creds_key is not None and (not isinstance(creds_key, str) or not creds_key):
        raise SampleError(f"creds_key must be the name of a creds key, got {creds_key!r}")
    return LinkedSample(path, creds_key)


def path_kind(path: str) -> str:
    """``"s3"``, ``"gcs"``, ``"azure"``, ``"http"`` or ``"local"``."""
    lower = path.lower()
    if lower.startswith("s3://"):
        return "s3"
    if lower.startswith(("gcs://", "gs://", "gcp://")):
        return "gcs"
    if lower.startswith(("az://", "azure://")):
        return "azure"
    if lower.startswith(HTTP_PREFIXES):
        return "http"
    return "local"
