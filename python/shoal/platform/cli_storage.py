"""``shoal storage show | set | unset --org ORG``: where an organization's new ``hub://``
datasets are stored (its default storage). Existing datasets stay where they are."""

from __future__ import annotations

import argparse
from typing import Any

from ..auth.platform_api import PlatformClient, run


def _client(args: argparse.Namespace) -> PlatformClient:
    return PlatformClient(getattr(args, "server", None), None)


def _path(org: str) -> str:
    return f"/api/org/{org}/storage"


def _show(args: argparse.Namespace) -> int:
    info = run(_client(args).request("GET", _path(args.org)))
    if not info.get("url"):
        print(f"{args.org!r} has no default storage: new datasets go to the platform's own root")
    else:
        print(f"{info['url']}  (creds key {info['creds_key']!r}, set {info.get('updated_at')})")
    return 0


def _set(args: argparse.Namespace) -> int:
    body = {"url": args.url, "creds_key": args.creds_key}
    info = run(_client(args).request("PUT", _path(args.org), body=body))
    print(
        f"new datasets of {args.org!r} go to {info['url']} (creds key {info['creds_key']!r}); "
        "existing ones stay where they are"
    )
    return 0


def _unset(args: argparse.Namespace) -> int:
    run(_client(args).request("DELETE", _path(args.org)))
    print(f"new datasets of {args.org!r} go to the platform's own root again")
    return 0


def add_commands(sub: Any, server_opt: Any) -> None:
    """Add ``shoal storage ...`` to the main parser (``server_opt`` adds ``--server``)."""
    storage = sub.add_parser("storage", help="an organization's default storage for new datasets")
    ssub = storage.add_subparsers(dest="storage_command", required=True)
    p = ssub.add_parser("show", help="the default storage (members)")
    p.add_argument("--org", required=True, help="organization")
    server_opt(p)
    p.set_defaults(func=_show)
    p = ssub.add_parser("set", help="store new datasets at URL with a creds key (org admins)")
    p.add_argument("url", help="s3://bucket/prefix or gcs://bucket/prefix")
    p.add_argument("--creds-key", required=True, help="the org's creds key that reaches URL")
    p.add_argument("--org", required=True, help="organization")
    server_opt(p)
    p.set_defaults(func=_set)
    p = ssub.add_parser("unset", help="back to the platform's own root (org admins)")
    p.add_argument("--org", required=True, help="organization")
    server_opt(p)
    p.set_defaults(func=_unset)
