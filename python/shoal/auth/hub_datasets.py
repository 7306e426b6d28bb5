"""Changes to a ``hub://org/name`` dataset's entry that only the platform can make: its name
and who may read it. The data stays where it is; cached grants for the old state are
forgotten, so the next open asks the platform again."""

from __future__ import annotations

from .. import _loop
from .hub_grants import forget
from .platform_api import PlatformClient
from .platform_names import check_name, parse_hub_path

__all__ = ["rename_dataset", "rename_dataset_async", "set_public", "set_public_async"]


async def rename_dataset_async(path: str, new_name: str, *, token: str | None = None) -> str:
    """Rename ``hub://org/name`` to ``hub://org/new_name``; returns the new path. Needs the
    'write' role."""
    org, name = parse_hub_path(path)
    client = PlatformClient(None, token)
    await client.update_dataset(org, name, basename=check_name(new_name))
    forget(client.url, f"{org}/{name}")
    forget(client.url, f"{org}/{new_name}")
    return f"hub://{org}/{new_name}"


def rename_dataset(path: str, new_name: str, *, token: str | None = None) -> str:
    """Rename ``hub://org/name`` to ``hub://org/new_name`` (the data stays where it is);
    returns the new path. Needs the 'write' role."""
    return _loop.run(rename_dataset_async(path, new_name, token=token))


async def set_public_async(path: str, public: bool, *, token: str | None = None) -> None:
    """Make ``hub://org/name`` readable by anyone (``public=True``) or members only. Needs
    the 'admin' role."""
    org, name = parse_hub_path(path)
    client = PlatformClient(None, token)
    await client.update_dataset(org, name, public=public)
    forget(client.url, f"{org}/{name}")


def set_public(path: str, public: bool = True, *, token: str | None = None) -> None:
    """Make ``hub://org/name`` readable by anyone (``public=True``) or members only. Needs the
    'admin' role."""
    _loop.run(set_public_async(path, public, token=token))
