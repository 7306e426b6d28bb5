"""Where ``shoal login`` keeps its token, and how a ``hub://`` call picks its platform and
token.

The login lives in ``login.json`` (mode 0600) in ``SHOAL_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/shoal``, else ``~/.config/shoal`` (``%APPDATA%\\shoal`` on Windows).

The platform URL: ``SHOAL_PLATFORM_URL``, else the server of the stored login, else
``http://127.0.0.1:7777``. The token: ``token=``, then ``SHOAL_TOKEN``, then
``ACTIVELOOP_TOKEN``, then the stored login (only for the server it was made for).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .._files import write_private
from ..errors import PlatformConfigError

__all__ = [
    "DEFAULT_URL",
    "StoredLogin",
    "config_dir",
    "delete_login",
    "login_path",
    "platform_url",
    "read_login",
    "resolve_token",
    "write_login",
]

DEFAULT_URL = "http://127.0.0.1:7777"
LOGIN_FILE = "login.json"


def config_dir() -> Path:
    """Where the login is kept: ``SHOAL_CONFIG_DIR``, ``$XDG_CONFIG_HOME/shoal`` or
    ``~/.config/shoal``."""
    explicit = os.environ.get("SHOAL_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "shoal"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) / "shoal" if xdg else Path.home() / ".config" / "shoal"


def login_path() -> Path:
    return config_dir() / LOGIN_FILE


@dataclass(frozen=True)
class StoredLogin:
    """What ``shoal login`` keeps: the server, the token, who it is for, when it expires."""

    server: str
    token: str = field(repr=False)
    username: str = ""
    expires_at: float | None = None


def read_login() -> StoredLogin | None:
    """The stored login, ``None`` if there is none; :class:`PlatformConfigError` if the file
    cannot be used (it says how to start over)."""
    path = login_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PlatformConfigError(
            f"the stored login {path} cannot be read ({type(exc).__name__}); "
            "run `shoal logout` and `shoal login` again"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        raise PlatformConfigError(
            f"the stored login {path} is damaged; run `shoal logout` and `shoal login` again"
        )
    expires = data.get("expires_at")
    return StoredLogin(
        server=str(data.get("server") or DEFAULT_URL),
        token=data["token"],
        username=str(data.get("username") or ""),
        expires_at=float(expires) if isinstance(expires, int | float) else None,
    )


def write_login(login: StoredLogin) -> Path:
    """Store ``login`` (replacing any other); returns the file it went to."""
    path = login_path()
    write_private(path, json.dumps(dataclasses.asdict(login), indent=2) + "\n")
    return path


def delete_login() -> bool:
    """Forget the stored login; ``False`` if there was none."""
    try:
        login_path().unlink()
    except FileNotFoundError:
        return False
    return True


def platform_url(explicit: str | None = None) -> str:
    """The platform's base URL, without a trailing slash."""
    url = explicit or os.environ.get("SHOAL_PLATFORM_URL")
    if not url:
        stored = read_login()
        url = stored.server if stored else DEFAULT_URL
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise PlatformConfigError(
            f"platform URL {url!r} must start with http:// or https:// "
            "(check SHOAL_PLATFORM_URL or `shoal login --server`)"
        )
    return url


def resolve_token(explicit: str | None, server: str) -> tuple[str | None, str]:
    """``(token, where it came from)``: ``token=``, ``SHOAL_TOKEN``, ``ACTIVELOOP_TOKEN``,
    then the stored login (only if it is for ``server``). ``(None, ...)``: anonymous."""
    if explicit:
        return explicit, "the token= argument"
    for var in ("SHOAL_TOKEN", "ACTIVELOOP_TOKEN"):
        value = os.environ.get(var)
        if value:
            return value, f"the {var} environment variable"
    stored = read_login()
    if stored is not None and stored.server.rstrip("/") == server.rstrip("/"):
        return stored.token, f"the login stored in {login_path()}"
    return None, "no token (anonymous)"
