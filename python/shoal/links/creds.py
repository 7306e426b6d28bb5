"""A dataset's creds keys: the names in ``linked_creds.json`` and the secrets held in memory.

``linked_creds.json`` (at the dataset root, never versioned) is deeplake 3.9.52's
``{"creds_keys": [...], "managed_creds_keys": [...], "used_creds_keys": [...]}``; the creds
index of a link tensor stores, per sample, ``0`` (no key) or ``k`` for ``creds_keys[k-1]``.
Secrets are never written anywhere: ``populate_creds`` keeps them in this object only, and
managed keys are fetched from the platform each time a dataset is opened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import CorruptDataError, InvalidCredsError
from .sample import CLOUD_PREFIXES, path_kind

KEY = "linked_creds.json"
LOCK_KEY = "linked_creds.lock"  # deeplake's lock around reading, merging and writing KEY

_S3_NAMES = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "profile_name"}
)
_GCS_NAMES = frozenset({"gcs_oauth_token", "type", "json_credentials", "method", "project_id"})
_HTTP_NAMES = frozenset({"Authorization", "access_token"})


def creds_kind(creds: Mapping[str, Any]) -> str | None:
    """What a populated creds dict opens: ``"s3"``, ``"gcs"``, ``"http"``, or None for ``{}``
    (the environment's default credentials, any kind)."""
    names = set(creds)
    if names & _S3_NAMES:
        return "s3"
    if names & _GCS_NAMES:
        return "gcs"
    if names & _HTTP_NAMES:
        return "http"
    return None


class LinkCreds:
    """The dataset's creds keys. Encodings are positions in ``keys`` (plus one)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.managed: set[str] = set()
        self.used: set[str] = set()
        self.secrets: dict[str, dict[str, Any]] = {}  # in memory only
        self.dirty = False
        self.loaded = False
        self.base: list[str] = []  # the stored key list this object started from

    def __repr__(self) -> str:  # names only: never a secret
        return f"LinkCreds(keys={self.keys!r}, managed={sorted(self.managed)!r})"

    # -- the stored file ---------------------------------------------------------------------
    @classmethod
    def parse(cls, raw: bytes | None, where: str) -> LinkCreds:
        out = cls()
        out.loaded = True
        if not raw:
            return out
        try:
            doc = json.loads(bytes(raw).decode("utf-8"))
            keys = [str(k) for k in doc["creds_keys"]]
            managed = {str(k) for k in doc.get("managed_creds_keys", [])}
            used = {str(k) for k in doc.get("used_creds_keys", [])}
        except (ValueError, KeyError, TypeError):
            raise CorruptDataError(f"{where} is not a linked_creds.json document") from None
        if "ENV" in used and "ENV" not in keys:
            # deeplake's reader does the same for datasets of older versions
            keys.insert(0, "ENV")
        out.keys, out.managed, out.used = keys, managed, used
        out.base = list(keys)
        return out

    def to_bytes(self) -> bytes:
        doc = {
            "creds_keys": self.keys,
            "managed_creds_keys": sorted(self.managed),
            "used_creds_keys": sorted(self.used),
        }
        return json.dumps(doc).encode("utf-8")

    def merge_stored(self, stored: LinkCreds) -> None:
        """If another writer stored keys since we read the file, theirs keep their positions
        (their encodings are in its data) and the keys we added follow."""
        if stored.keys != self.base:
            added = [k for k in self.keys[len(self.base) :] if k not in stored.keys]
            self.keys = list(stored.keys) + added
            self.managed |= stored.managed & set(stored.keys)
            self.used |= stored.used & set(stored.keys)
        self.base = list(self.keys)

    # -- keys --------------------------------------------------------------------------------
    def check_name(self, key: Any) -> str:
        if not isinstance(key, str) or not key:
            raise InvalidCredsError(f"a creds key is a non-empty name, got {key!r}")
        return key

    def require(self, key: str, index: int | None = None) -> None:
        if key not in self.keys:
            where = f" (sample {index})" if index is not None else ""
            raise InvalidCredsError(
                f"unknown creds key {key!r}{where}; the dataset has "
                f"{self.keys or 'no creds keys'}: add it with ds.add_creds_key({key!r})"
            )

    def add(self, key: str, managed: bool) -> None:
        self.check_name(key)
        if key in self.keys:
            raise InvalidCredsError(f"creds key {key!r} already exists in this dataset")
        self.keys.append(key)
        if managed:
            self.managed.add(key)
        self.dirty = True

    def populate(self, key: str, creds: Mapping[str, Any]) -> None:
        self.require(key)
        if key in self.managed:
            raise InvalidCredsError(
                f"creds key {key!r} is managed: the platform supplies its credentials; use "
                f"ds.update_creds_key({key!r}, managed=False) to populate it yourself"
            )
        if not isinstance(creds, Mapping):
            raise InvalidCredsError(
                f"populate_creds({key!r}, ...) takes a dict of credentials, got "
                f"{type(creds).__name__}"
            )
        # The fields are checked by the store that uses them (s3, gcs or http), on first use.
        self.secrets[key] = dict(creds)

    def rename(self, old: str, new: str) -> None:
        self.require(old)
        self.check_name(new)
        if new in self.keys:
            raise InvalidCredsError(f"creds key {new!r} already exists in this dataset")
        self.keys[self.keys.index(old)] = new  # same position: the same encoding
        for group in (self.managed, self.used):
            if old in group:
                group.discard(old)
                group.add(new)
        if old in self.secrets:
            self.secrets[new] = self.secrets.pop(old)
        self.dirty = True

    def set_managed(self, key: str, managed: bool) -> None:
        self.require(key)
        if managed:
            self.managed.add(key)
        else:
            self.managed.discard(key)
        self.secrets.pop(key, None)
        self.dirty = True

    # -- encoding ----------------------------------------------------------------------------
    def encoding(self, key: str | None, path: str, index: int) -> int:
        """The creds index value for a sample appended with ``key`` (0: none)."""
        if key is None:
            if path.lower().startswith(CLOUD_PREFIXES):
                raise InvalidCredsError(
                    f"sample {index}: {path_kind(path)} link {path!r} needs a creds key: "
                    "ds.add_creds_key('k'), then shoal.link(url, creds_key='k')"
                )
            return 0
        self.require(key, index)
        return self.keys.index(key) + 1

    def key_of(self, encoding: int, tensor: str, index: int) -> str | None:
        if encoding == 0:
            return None
        if encoding > len(self.keys):
            raise CorruptDataError(
                f"tensor {tensor!r}: sample {index} names creds key #{encoding}, but "
                f"linked_creds.json has {len(self.keys)}; the dataset is damaged"
            )
        return self.keys[encoding - 1]

    def mark_used(self, key: str | None) -> None:
        if key is not None and key not in self.used:
            self.used.add(key)
            self.dirty = True

    def check_ready(self, key: str, index: int | None, kind: str) -> dict[str, Any] | None:
        """The secrets to read a ``kind`` URL with ``key``; None for a managed key (the
        platform vends them). Raises naming the key, never its secret."""
        self.require(key, index)
        where = f"sample {index}: " if index is not None else ""
        if key in self.managed:
            return None
        creds = self.secrets.get(key)
        if creds is None:
            raise InvalidCredsError(
                f"{where}creds key {key!r} has no credentials in this session; call "
                f"ds.populate_creds({key!r}, {{...}}) after loading (they are never stored)"
            )
        got = creds_kind(creds)
        if got is not None and got != kind:
            raise InvalidCredsError(
                f"{where}creds key {key!r} holds {got} credentials, but the link is a {kind} "
                "URL; link it with a key of the right kind"
            )
        return creds
