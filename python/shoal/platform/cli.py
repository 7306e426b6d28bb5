"""``shoal serve | register | login | logout | whoami | token | org | dataset``.

Registered into the main ``shoal`` parser by :func:`add_commands`. Each command returns an
exit code; errors are :class:`shoal.errors.ShoalError` and the main CLI prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys
from typing import Any

from ..auth import login_store
from ..auth.hub_datasets import rename_dataset_async, set_public_async
from ..auth.platform_api import PlatformClient, run
from ..auth.platform_names import parse_hub_path
from ..errors import AuthenticationError, InvalidRequestError, PlatformError
from .config import ServerConfig
from .tokens import decode_unverified


def _client(args: argparse.Namespace, token: str | None = None) -> PlatformClient:
    return PlatformClient(getattr(args, "server", None), token)


def _password(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    if getattr(args, "password", None):
        return str(args.password)
    if not sys.stdin.isatty():
        raise InvalidRequestError(
            "no password: pass --password-stdin and pipe it in, or run in a terminal"
        )
    return getpass.getpass(prompt)


def _ask(value: str | None, prompt: str) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise InvalidRequestError(f"missing {prompt.strip(': ').lower()}; pass it as an option")
    return input(prompt).strip()


def _store(client: PlatformClient, token: str, username: str) -> str:
    claims = decode_unverified(token) or {}
    exp = claims.get("exp")
    path = login_store.write_login(
        login_store.StoredLogin(
            server=client.url,
            token=token,
            username=username,
            expires_at=float(exp) if isinstance(exp, int | float) else None,
        )
    )
    return str(path)


# ----------------------------------------------------------------------------------------------
# serve


def _serve(args: argparse.Namespace) -> int:
    from .server import configure_logging, serve

    config = ServerConfig.load(
        args.config,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        storage_root=args.storage_root,
        log_format=args.log_format,
        log_level=args.log_level,
    )
    configure_logging(config)

    def ready(url: str) -> None:
        print(f"shoal platform listening on {url} (data in {config.data_dir})", flush=True)

    asyncio.run(serve(config, ready=ready))
    return 0


# ----------------------------------------------------------------------------------------------
# accounts


def _register(args: argparse.Namespace) -> int:
    client = _client(args)
    username = _ask(args.username, "Username: ")
    email = _ask(args.email, "Email: ")
    password = _password(args)
    run(client.register(username, email, password))
    print(f"registered {username!r} on {client.url}")
    issued = run(client.login(username, password))
    path = _store(client, issued["token"], username)
    print(f"logged in as {username!r} until {issued['expires_at']} (token stored in {path})")
    return 0


def _login(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.token:
        checker = PlatformClient(client.url, args.token)
        profile = run(checker.profile())
        username = str(profile["_id"])
        path = _store(client, args.token, username)
        expires = profile.get("token", {}).get("expires_at", "?")
        print(
            f"logged in as {username!r} with an API token valid until {expires} (stored in {path})"
        )
        return 0
    username = _ask(args.username, "Username: ")
    password = _password(args)
    issued = run(client.login(username, password))
    path = _store(client, issued["token"], issued.get("username", username))
    print(
        f"logged in as {username!r} on {client.url} until {issued['expires_at']} (token stored in {path})"
    )
    return 0


def _logout(args: argparse.Namespace) -> int:
    stored = login_store.read_login()
    if stored is None:
        print("not logged in")
        return 0
    claims = decode_unverified(stored.token) or {}
    if claims.get("typ") == "login":  # an API token given to `login --token` stays valid
        # Expired, revoked, or the server is gone: forgetting the token is what matters.
        with contextlib.suppress(AuthenticationError, PlatformError):
            run(PlatformClient(stored.server, stored.token).logout())
    login_store.delete_login()
    print(f"logged out of {stored.server} (removed {login_store.login_path()})")
    return 0


def _whoami(args: argparse.Namespace) -> int:
    client = _client(args)
    if client.token is None:
        print(f"not logged in to {client.url}; run `shoal login`")
        return 1
    profile = run(client.profile())
    token = profile.get("token", {})
    kind = "API token " + repr(token.get("name")) if token.get("type") == "api" else "login token"
    print(f"{profile['_id']} <{profile.get('email', '')}> on {client.url}")
    print(f"  organizations: {', '.join(profile.get('organizations', []))}")
    print(f"  {kind} from {client.token_source}, valid until {token.get('expires_at', '?')}")
    return 0


# ----------------------------------------------------------------------------------------------
# tokens, orgs, datasets


def _token_create(args: argparse.Namespace) -> int:
    issued = run(_client(args).create_token(args.name, args.expires))
    print(issued["token"])
    print(
        f"API token {issued['name']!r} valid until {issued['expires_at']}; it is shown only "
        "once. Use it as token=..., SHOAL_TOKEN or `shoal login --token`.",
        file=sys.stderr,
    )
    return 0


def _token_list(args: argparse.Namespace) -> int:
    rows = run(_client(args).list_tokens())
    if not rows:
        print("no API tokens")
        return 0
    print(f"{'NAME':<24} {'STATUS':<8} {'CREATED':<21} EXPIRES")
    for r in rows:
        print(f"{r['name']:<24} {r['status']:<8} {r['created_at']:<21} {r['expires_at']}")
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    run(_client(args).revoke_token(args.name))
    print(f"revoked API token {args.name!r}")
    return 0


def _org_list(args: argparse.Namespace) -> int:
    for org in run(_client(args).orgs()):
        print(f"{org['name']:<32} {org['role']:<6} {'personal' if org['personal'] else ''}")
    return 0


def _org_create(args: argparse.Namespace) -> int:
    run(_client(args).create_org(args.name))
    print(f"created organization {args.name!r}; you are its admin")
    return 0


def _org_members(args: argparse.Namespace) -> int:
    for m in run(_client(args).members(args.org)):
        print(f"{m['username']:<32} {m['role']}")
    return 0


def _org_add(args: argparse.Namespace) -> int:
    run(_client(args).set_member(args.org, args.user, args.role))
    print(f"{args.user!r} has the {args.role!r} role in {args.org!r}")
    return 0


def _org_remove(args: argparse.Namespace) -> int:
    run(_client(args).remove_member(args.org, args.user))
    print(f"removed {args.user!r} from {args.org!r}")
    return 0


def _ds_list(args: argparse.Namespace) -> int:
    for d in run(_client(args).datasets(args.org)):
        print(f"hub://{d['tag']:<40} {'public' if d['public'] else 'private':<8} {d['path']}")
    return 0


def _ds_rename(args: argparse.Namespace) -> int:
    new = run(rename_dataset_async(args.path, args.new_name))
    print(f"renamed {args.path} to {new}")
    return 0


def _ds_privacy(args: argparse.Namespace) -> int:
    parse_hub_path(args.path)
    run(set_public_async(args.path, args.public))
    print(f"{args.path} is now {'public' if args.public else 'private'}")
    return 0


# ----------------------------------------------------------------------------------------------
# wiring


def _server_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        help="platform URL (default: SHOAL_PLATFORM_URL, the stored login, http://127.0.0.1:7777)",
    )


def _password_opts(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    g.add_argument("-p", "--password", help=argparse.SUPPRESS)  # visible in `ps`: for tests


def add_commands(sub: Any) -> None:
    """Add the platform's subcommands to the main ``shoal`` parser."""
    p = sub.add_parser("serve", help="run the platform (hub:// datasets, accounts, tokens)")
    p.add_argument("--config", help="TOML config file (default: SHOAL_SERVE_CONFIG)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7777; 0 picks a free one)")
    p.add_argument("--data-dir", help="database and secret key directory")
    p.add_argument("--storage-root", help="directory, s3://bucket/prefix or gcs://bucket/prefix")
    p.add_argument("--log-format", choices=["json", "text"])
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=_serve)

    p = sub.add_parser("register", help="create an account on the platform and log in")
    p.add_argument("-u", "--username")
    p.add_argument("-e", "--email")
    _password_opts(p)
    _server_opt(p)
    p.set_defaults(func=_register)

    p = sub.add_parser("login", help="log in (password or --token); the token is stored 0600")
    p.add_argument("-u", "--username")
    p.add_argument("-t", "--token", help="log in with an API token instead of a password")
    _password_opts(p)
    _server_opt(p)
    p.set_defaults(func=_login)

    p = sub.add_parser("logout", help="revoke and forget the stored login")
    p.set_defaults(func=_logout)

    p = sub.add_parser("whoami", help="who the platform thinks you are")
    _server_opt(p)
    p.set_defaults(func=_whoami)

    token = sub.add_parser("token", help="API tokens: create, list, revoke")
    tsub = token.add_subparsers(dest="token_command", required=True)
    p = tsub.add_parser("create", help="create an API token (printed once)")
    p.add_argument("--name", required=True)
    p.add_argument("--expires", default="30d", help="lifetime: 30d, 12h, 90m, 2w (default 30d)")
    _server_opt(p)
    p.set_defaults(func=_token_create)
    p = tsub.add_parser("list", help="your API tokens and their status")
    _server_opt(p)
    p.set_defaults(func=_token_list)
    p = tsub.add_parser("revoke", help="revoke an API token by name")
    p.add_argument("name")
    _server_opt(p)
    p.set_defaults(func=_token_revoke)

    org = sub.add_parser("org", help="organizations and members")
    osub = org.add_subparsers(dest="org_command", required=True)
    p = osub.add_parser("list", help="your organizations")
    _server_opt(p)
    p.set_defaults(func=_org_list)
    p = osub.add_parser("create", help="create an organization")
    p.add_argument("name")
    _server_opt(p)
    p.set_defaults(func=_org_create)
    p = osub.add_parser("members", help="members and roles")
    p.add_argument("org")
    _server_opt(p)
    p.set_defaults(func=_org_members)
    p = osub.add_parser("add", help="add a member or change a role (admins)")
    p.add_argument("org")
    p.add_argument("user")
    p.add_argument("--role", choices=["read", "write", "admin"], default="read")
    _server_opt(p)
    p.set_defaults(func=_org_add)
    p = osub.add_parser("remove", help="remove a member (admins), or leave")
    p.add_argument("org")
    p.add_argument("user")
    _server_opt(p)
    p.set_defaults(func=_org_remove)

    ds = sub.add_parser("dataset", help="hub:// dataset entries: list, rename, public/private")
    dsub = ds.add_subparsers(dest="dataset_command", required=True)
    p = dsub.add_parser("list", help="an organization's datasets")
    p.add_argument("org")
    _server_opt(p)
    p.set_defaults(func=_ds_list)
    p = dsub.add_parser("rename", help="rename hub://org/name (the data stays in place)")
    p.add_argument("path")
    p.add_argument("new_name")
    p.set_defaults(func=_ds_rename)
    for name, public in (("public", True), ("private", False)):
        p = dsub.add_parser(name, help=f"make a dataset {name} (admins)")
        p.add_argument("path")
        p.set_defaults(func=_ds_privacy, public=public)

    from .cli_creds import add_commands as add_creds_commands
    from .cli_storage import add_commands as add_storage_commands

    add_creds_commands(sub, _server_opt)
    add_storage_commands(sub, _server_opt)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - `python -m`
    parser = argparse.ArgumentParser(prog="shoal")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
