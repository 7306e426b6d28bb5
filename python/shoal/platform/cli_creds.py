"""``shoal creds add | list | show | rotate | remove | new-master-key``.

The secret of ``add`` and ``rotate`` comes from a JSON file or from stdin (``--file -``), never
from the command line, where ``ps`` and shell history would show it. Nothing printed here holds
a secret: the server never returns one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..auth.platform_api import PlatformClient, run
from ..errors import InvalidRequestError
from . import crypto

KINDS = ("aws-keys", "aws-role", "gcs-key")


def _client(args: argparse.Namespace) -> PlatformClient:
    return PlatformClient(getattr(args, "server", None), None)


def _read_secret(path: str, name: str) -> dict[str, Any]:
    where = "stdin" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise InvalidRequestError(
            f"cannot read the secret of {name!r} from {where}: {exc.strerror}"
        ) from None
    try:
        value = json.loads(text)
    except ValueError:
        # The parser's message may quote the text: leave it out.
        raise InvalidRequestError(f"the secret of {name!r} in {where} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"the secret of {name!r} in {where} must be a JSON object")
    return value


def _path(org: str, name: str = "") -> str:
    return f"/api/org/{org}/creds" + (f"/{name}" if name else "")


def _add(args: argparse.Namespace) -> int:
    body = {
        "name": args.name,
        "kind": args.kind,
        "secret": _read_secret(args.file, args.name),
        "allow_static": args.allow_static,
    }
    info = run(_client(args).request("POST", _path(args.org), body=body))
    print(f"stored creds key {info['name']!r} ({info['kind']}) in {args.org!r}")
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = run(_client(args).request("GET", _path(args.org)))["creds_keys"]
    for k in keys:
        print(f"{k['name']:<32} {k['kind']:<9} {k['created_at']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    info = run(_client(args).request("GET", _path(args.org, args.name)))
    print(json.dumps(info, indent=2, sort_keys=True))
    return 0


def _rotate(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"secret": _read_secret(args.file, args.name)}
    if args.allow_static is not None:
        body["allow_static"] = args.allow_static
    run(_client(args).request("PUT", _path(args.org, args.name), body=body))
    print(f"rotated creds key {args.name!r} in {args.org!r}; the next vend uses the new secret")
    return 0


def _remove(args: argparse.Namespace) -> int:
    run(_client(args).request("DELETE", _path(args.org, args.name)))
    print(f"removed creds key {args.name!r} from {args.org!r}")
    return 0


def _new_master_key(args: argparse.Namespace) -> int:
    path = Path(args.data_dir) / crypto.KEY_FILE
    key_id = crypto.add_key_to_file(path)
    print(
        f"added encryption key {key_id!r} first in {path}; restart the server to re-encrypt "
        "every stored creds key with it (older keys stay in the file for decryption)"
    )
    return 0


def add_commands(sub: Any, server_opt: Any) -> None:
    """Add ``shoal creds ...`` to the main parser (``server_opt`` adds ``--server``)."""
    creds = sub.add_parser("creds", help="an organization's managed cloud credentials")
    csub = creds.add_subparsers(dest="creds_command", required=True)

    def common(p: argparse.ArgumentParser, *, name: bool = True) -> None:
        if name:
            p.add_argument("name", help="creds key name")
        p.add_argument("--org", required=True, help="organization")
        server_opt(p)

    p = csub.add_parser("add", help="store a creds key (org admins); the secret from --file")
    common(p)
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--file", required=True, help="JSON file with the secret, or - for stdin")
    p.add_argument(
        "--allow-static",
        action="store_true",
        help="let the platform hand out these keys unscoped where it cannot scope them",
    )
    p.set_defaults(func=_add)
    p = csub.add_parser("list", help="names, kinds and creation times (members)")
    common(p, name=False)
    p.set_defaults(func=_list)
    p = csub.add_parser("show", help="a key's non-secret settings (org admins)")
    common(p)
    p.set_defaults(func=_show)
    p = csub.add_parser("rotate", help="replace a key's secret (org admins)")
    common(p)
    p.add_argument("--file", required=True, help="JSON file with the new secret, or - for stdin")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--allow-static", dest="allow_static", action="store_true", default=None)
    g.add_argument("--no-allow-static", dest="allow_static", action="store_false")
    p.set_defaults(func=_rotate)
    p = csub.add_parser("remove", help="remove a key no dataset uses (org admins)")
    common(p)
    p.set_defaults(func=_remove)
    p = csub.add_parser(
        "new-master-key", help="server side: add a new encryption key to DATA_DIR/creds.keys"
    )
    p.add_argument("--data-dir", required=True, help="the server's data directory")
    p.set_defaults(func=_new_master_key)
