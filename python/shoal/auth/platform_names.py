"""The platform's naming rule, shared by the server and its clients: usernames, organization
names, dataset names and API token names, and how a ``hub://org/name`` path splits into them.

Names are checked on the client before they go into a URL path, and again by the server.
"""

from __future__ import annotations

import re

from ..errors import InvalidRequestError, PathError

__all__ = ["NAME_RE", "check_name", "parse_hub_path", "split_location"]

#: Usernames, org names, dataset names and API token names.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HUB = "hub://"


def check_name(value: str) -> str:
    """``value`` if it is a valid name (safe as a URL path segment), else
    :class:`InvalidRequestError` saying what a name may hold."""
    if not NAME_RE.fullmatch(value):
        raise InvalidRequestError(
            f"invalid name {value[:80]!r}: use 1-64 letters, digits, '-' or '_', starting with a "
            "letter or digit"
        )
    return value


def split_location(location: str) -> tuple[str, str]:
    """``"org/name"`` (what follows ``hub://``) → ``("org", "name")``; :class:`PathError`
    for anything else."""
    parts = location.strip("/").split("/")
    if len(parts) != 2 or not all(NAME_RE.fullmatch(p) for p in parts):
        raise PathError(
            f"invalid hub path 'hub://{location}': use hub://org/name, where org and name are "
            "1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return parts[0], parts[1]


def parse_hub_path(path: str) -> tuple[str, str]:
    """``"hub://org/name"`` → ``("org", "name")``. A ``@branch`` suffix is ignored: the
    operations that take a whole hub path (rename, privacy) act on the dataset, not a
    version."""
    if not path[: len(_HUB)].lower() == _HUB:
        raise PathError(f"{path[:200]!r} is not a hub:// path; use hub://org/name")
    location = path[len(_HUB) :]
    last = location.rsplit("/", 1)[-1]
    if "@" in last:
        location = location.rsplit("@", 1)[0]
    return split_location(location)
