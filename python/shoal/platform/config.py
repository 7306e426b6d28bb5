"""The server's settings (``shoal serve``). Where a client keeps its login is
:mod:`shoal.auth.login_store`.

Settings come from, lowest to highest priority: the defaults below, a TOML file
(``--config FILE`` or ``SHOAL_SERVE_CONFIG``), ``SHOAL_SERVE_<NAME>`` environment variables
(``SHOAL_SERVE_PORT=8000``; dicts as JSON), then command-line flags. ::

    host = "127.0.0.1"
    port = 7777
    data_dir = "/var/lib/shoal"                # SQLite database, secret key
    database_url = "postgresql://shoal:...@db.internal/shoal"   # instead of SQLite (replicas)
    storage_root = "s3://bucket/datasets"      # default: <data_dir>/datasets
    sts_role_arn = "arn:aws:iam::123:role/ShoalData"
    s3_vending = "sts"                         # "static": no STS; readers read via the server
    [storage_creds]
    aws_access_key_id = "..."
    aws_secret_access_key = "..."
    endpoint_url = "https://s3.example.com"
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import write_private
from ..errors import PlatformConfigError
from .db_backends import is_postgres, redact_url

ENV_PREFIX = "SHOAL_SERVE_"
#: What secrets in a repr are replaced with.
HIDDEN = "***"


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "shoal", "platform")


@dataclass
class ServerConfig:
    """Everything ``shoal serve`` can be told. See the module docstring for the sources."""

    host: str = "127.0.0.1"
    port: int = 7777
    data_dir: str = field(default_factory=_default_data_dir)
    #: The platform's database: empty for SQLite in ``<data_dir>/platform.db`` (one process),
    #: or ``postgresql://user:password@host:port/dbname`` (needs ``shoal[postgres]``) so
    #: several replicas behind a load balancer share accounts, tokens, login limits and
    #: vended-credential caches. Replicas must also share ``secret_key`` and
    #: ``creds_encryption_keys`` (or one ``data_dir``).
    database_url: str = ""
    #: Where the platform's datasets live: a directory, ``s3://bucket/prefix`` or
    #: ``gcs://bucket/prefix``. Empty: ``<data_dir>/datasets``.
    storage_root: str = ""
    #: Credentials the server uses for ``storage_root`` (same keys as a ``creds=`` dict).
    storage_creds: dict[str, Any] = field(default_factory=dict)
    #: S3 roots: the role to assume (with an inline policy for the dataset's prefix).
    sts_role_arn: str = ""
    #: S3 roots: "sts" (AssumeRole, scoped) or "static" (for a store without STS: writers get
    #: storage_creds as they are and can then reach the whole root; readers and anonymous
    #: callers never get them, and read through the platform's object endpoints instead).
    s3_vending: str = "sts"
    #: GCS roots: downscope tokens to the dataset prefix (Credential Access Boundary).
    gcs_downscope: bool = True
    #: Lifetime of vended credentials, seconds (S3 STS needs at least 900).
    creds_ttl: int = 3600
    #: AES-256-GCM keys for managed credentials at rest, "ID:BASE64,ID:BASE64" (the first
    #: encrypts). Empty: <data_dir>/creds.keys (see shoal.platform.crypto for rotation).
    creds_encryption_keys: str = ""
    #: AWS credentials the platform assumes org roles (``aws-role`` creds keys) with; empty:
    #: storage_creds.
    role_creds: dict[str, Any] = field(default_factory=dict)
    #: HS256 key for tokens. Empty: a random key kept in <data_dir>/secret.key.
    secret_key: str = ""
    login_token_hours: float = 1000.0
    max_token_days: int = 3650
    allow_registration: bool = True
    #: The web app is reached over https through a proxy that ends TLS (and talks plain http
    #: to this server): session cookies are then always ``Secure``, and the viewer's CORS
    #: advice names the https origin.
    behind_https_proxy: bool = False
    #: Failed logins allowed per (username, client address) in ``login_window`` seconds;
    #: past them each attempt from that address waits ``login_backoff`` seconds, doubling per
    #: failure (at most ``login_window``). The account is never locked for its owner
    #: elsewhere. ``*_per_ip``: login attempts per client address and window, any account.
    login_max_failures: int = 5
    login_max_failures_per_ip: int = 50
    login_window: float = 300.0
    login_backoff: float = 10.0
    #: scrypt cost (a power of two); 2**14 is about 16 MiB of memory per hash.
    scrypt_n: int = 1 << 14
    log_level: str = "info"
    log_format: str = "json"
    shutdown_timeout: float = 10.0

    def __repr__(self) -> str:
        shown = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("secret_key", "storage_creds", "creds_encryption_keys", "role_creds")
        }
        shown["database_url"] = redact_url(self.database_url)
        shown["secret_key"] = HIDDEN if self.secret_key else ""
        shown["storage_creds"] = {k: HIDDEN for k in self.storage_creds}
        shown["creds_encryption_keys"] = HIDDEN if self.creds_encryption_keys else ""
        shown["role_creds"] = {k: HIDDEN for k in self.role_creds}
        return "ServerConfig(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def database(self) -> str:
        """Where the database is: ``database_url``, or the SQLite file in ``data_dir``."""
        return self.database_url or os.path.join(self.data_dir, "platform.db")

    @property
    def root(self) -> str:
        """The storage root, with the default filled in."""
        return self.storage_root or os.path.join(self.data_dir, "datasets")

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> ServerConfig:
        """Defaults, then the TOML file, then ``SHOAL_SERVE_*``, then ``overrides`` (``None``
        values in ``overrides`` are skipped)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = path or env.get(ENV_PREFIX + "CONFIG") or None
        if path:
            values.update(_read_toml(Path(path)))
        known = {f.name: f for f in dataclasses.fields(cls)}
        for name in known:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = _from_env(name, raw, known[name].type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name, value in values.items():
            if name not in known:
                raise PlatformConfigError(_unknown(name, list(known)))
            values[name] = _check_type(name, value, known[name].type)
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise PlatformConfigError(f"port {self.port} is not a TCP port (0-65535)")
        if self.scrypt_n < 2 or self.scrypt_n & (self.scrypt_n - 1):
            raise PlatformConfigError(f"scrypt_n must be a power of two, got {self.scrypt_n}")
        if self.s3_vending not in ("sts", "static"):
            raise PlatformConfigError(
                f"s3_vending must be 'sts' or 'static', not {self.s3_vending!r}"
            )
        if self.database_url and not is_postgres(self.database_url):
            raise PlatformConfigError(
                f"database_url must be a postgresql:// URL, not {redact_url(self.database_url)!r}; "
                "leave it empty for SQLite in data_dir"
            )
        if self.log_format not in ("json", "text"):
            raise PlatformConfigError(
                f"log_format must be 'json' or 'text', not {self.log_format!r}"
            )
        if self.creds_ttl < 60:
            raise PlatformConfigError(
                f"creds_ttl must be at least 60 seconds, got {self.creds_ttl}"
            )
        if self.secret_key and len(self.secret_key) < 32:
            raise PlatformConfigError(
                "secret_key must be at least 32 characters; leave it empty to have one generated"
            )
        if self.login_backoff <= 0 or self.login_window <= 0:
            raise PlatformConfigError("login_backoff and login_window must be positive")
        if self.login_token_hours <= 0 or self.max_token_days <= 0:
            raise PlatformConfigError("login_token_hours and max_token_days must be positive")

    def secret(self) -> bytes:
        """The token signing key: ``secret_key``, else ``<data_dir>/secret.key`` (created with
        mode 0600 on first use)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = Path(self.data_dir) / "secret.key"
        with contextlib.suppress(FileNotFoundError):
            key = path.read_text().strip()
            if len(key) >= 32:
                return key.encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        write_private(path, key + "\n")
        return key.encode()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise PlatformConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlatformConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _unknown(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else f"; known settings: {', '.join(known)}"
    return f"unknown platform setting {name!r}{hint}"


def _from_env(name: str, raw: str, kind: object) -> Any:
    where = ENV_PREFIX + name.upper()
    text = str(kind)
    try:
        if "dict" in text:
            value = json.loads(raw) if raw.strip() else {}
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            return value
        if text == "bool":
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off", ""):
                return False
            raise ValueError("not a boolean")
        if text == "int":
            return int(raw, 0)
        if text == "float":
            return float(raw)
    except ValueError as exc:
        raise PlatformConfigError(
            f"{where}={raw!r} cannot be used: {exc} (expected {text})"
        ) from None
    return raw


def _check_type(name: str, value: Any, kind: object) -> Any:
    text = str(kind)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }.get(text, isinstance(value, dict) if "dict" in text else True)
    if not ok:
        raise PlatformConfigError(
            f"platform setting {name!r} must be {text}, got {type(value).__name__}"
        )
    return float(value) if text == "float" else value
