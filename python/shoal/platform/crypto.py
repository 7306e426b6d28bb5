"""Encryption at rest for managed credentials: AES-256-GCM with a key ring.

Where the keys come from, in order:

* the ``creds_encryption_keys`` setting: ``"ID:BASE64KEY,ID:BASE64KEY,..."`` (32-byte keys,
  standard base64); the **first** is the current key, the others are kept for decryption;
* else ``<data_dir>/creds.keys``, one ``ID BASE64KEY`` per line, the first line current. The
  file is created with mode 0600 on first use, and refused if group or others may read it.

Every ciphertext is stored with the id of the key that made it, and its AES-GCM tag covers the
row's identity (org id, key name, kind), so a ciphertext copied onto another row does not
decrypt.

Rotating the key: put a new line first in ``creds.keys`` (``shoal creds new-master-key``
does this) or a new ``ID:KEY`` first in ``creds_encryption_keys``, and restart the server. On
startup every stored credential not under the current key is re-encrypted with it; once the
server has started, the old keys may be removed.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._files import write_private
from ..errors import PlatformConfigError

KEY_FILE = "creds.keys"
_NONCE = 12


class DecryptError(Exception):
    """A ciphertext did not decrypt (unknown key id, or tampered with). No secret inside."""


@dataclass(frozen=True)
class KeyRing:
    """AES-GCM keys by id; ``current`` encrypts, every key decrypts."""

    current: str
    keys: dict[str, bytes] = field(repr=False)

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current!r}, ids={sorted(self.keys)!r})"

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        """``(key id, nonce + ciphertext)``."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(_NONCE)
        return self.current, nonce + AESGCM(self.keys[self.current]).encrypt(nonce, plaintext, aad)

    def decrypt(self, key_id: str, blob: bytes, aad: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self.keys.get(key_id)
        if key is None:
            raise DecryptError(
                f"the encryption key {key_id!r} is not in the key ring; restore it (old keys must "
                "stay until the server has re-encrypted everything on startup)"
            )
        try:
            return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], aad)
        except InvalidTag:
            raise DecryptError(
                "a stored credential failed its integrity check (tampered with, or encrypted "
                "under another key with the same id)"
            ) from None


def _decode_key(key_id: str, text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PlatformConfigError(f"the key {key_id!r} in {where} is not valid base64") from None
    if len(raw) != 32:
        raise PlatformConfigError(
            f"the key {key_id!r} in {where} is {len(raw)} bytes; AES-256 needs 32 "
            "(generate one with: python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')"
        )
    return raw


def _ring(pairs: list[tuple[str, str]], where: str) -> KeyRing:
    if not pairs:
        raise PlatformConfigError(f"{where} holds no key")
    keys: dict[str, bytes] = {}
    for key_id, text in pairs:
        if not key_id or key_id in keys:
            raise PlatformConfigError(f"{where}: key ids must be non-empty and unique")
        keys[key_id] = _decode_key(key_id, text, where)
    return KeyRing(pairs[0][0], keys)


def parse_setting(value: str) -> KeyRing:
    """The ring in a ``creds_encryption_keys`` setting."""
    pairs = []
    for item in value.split(","):
        if item.strip():
            key_id, sep, text = item.strip().partition(":")
            if not sep:
                raise PlatformConfigError(
                    "creds_encryption_keys must be 'ID:BASE64KEY[,ID:BASE64KEY...]'"
                )
            pairs.append((key_id.strip(), text))
    return _ring(pairs, "creds_encryption_keys")


def _new_line() -> str:
    key_id = time.strftime("k%Y%m%dT%H%M%S", time.gmtime()) + secrets.token_hex(2)
    return f"{key_id} {base64.b64encode(os.urandom(32)).decode()}\n"


def read_key_file(path: Path) -> KeyRing:
    """The ring in ``path`` (created with one new key if missing)."""
    if not path.exists():
        write_private(path, _new_line())
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PlatformConfigError(
            f"{path} may be read by other users (mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
        )
    pairs = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key_id, _, text = line.strip().partition(" ")
            pairs.append((key_id, text))
    return _ring(pairs, str(path))


def add_key_to_file(path: Path) -> str:
    """Put a new current key first in ``path``; the older ones stay for decryption. The id."""
    old = path.read_text() if path.exists() else ""
    line = _new_line()
    write_private(path, line + old)
    return line.split(" ", 1)[0]


def load_ring(setting: str, data_dir: str | os.PathLike[str]) -> KeyRing:
    """The server's ring: the setting if given, else the key file in ``data_dir``."""
    if setting.strip():
        return parse_setting(setting)
    return read_key_file(Path(data_dir) / KEY_FILE)
