"""Google credential files on this machine: where they are and reading them.

- the browser login shoal saves (``creds="browser"``) and reuses (``creds="cache"``):
  :func:`token_cache_path`;
- gcloud's application-default credentials file (``gcloud auth application-default login``):
  :func:`gcloud_adc_path`, at the path google-auth and gcloud-aio-auth also look;
- :func:`read_json`: a credential JSON file, every failure a
  :class:`~shoal.errors.CredentialsError` naming the file and what to do, never its content.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import CredentialsError

__all__ = ["gcloud_adc_path", "read_json", "token_cache_path"]


def _config_home() -> Path:
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"])
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else Path.home() / ".config"


def token_cache_path() -> Path:
    """Where ``creds="browser"`` saves its login and ``creds="cache"`` reads it:
    ``$SHOAL_GCS_TOKEN_CACHE``, else ``<user config dir>/shoal/gcs_token.json``."""
    override = os.environ.get("SHOAL_GCS_TOKEN_CACHE")
    return Path(override).expanduser() if override else _config_home() / "shoal" / "gcs_token.json"


def gcloud_adc_path() -> Path:
    sdk = os.environ.get("CLOUDSDK_CONFIG")
    if sdk:
        base = Path(sdk)
    elif sys.platform == "win32" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"]) / "gcloud"
    else:
        base = Path.home() / ".config" / "gcloud"
    return base / "application_default_credentials.json"


def read_json(path: Path, origin: str, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(f"{origin}: the file does not exist; {what}") from None
    except OSError as exc:
        raise CredentialsError(f"{origin}: cannot read it ({exc.strerror}); {what}") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"{origin} is not a JSON text file; {what}") from None
    try:
        info = json.loads(text)
    except ValueError:
        raise CredentialsError(f"{origin} is not valid JSON; {what}") from None
    if not isinstance(info, dict):
        raise CredentialsError(f"{origin} does not hold a JSON object; {what}")
    return info
