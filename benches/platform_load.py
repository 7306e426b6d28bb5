"""Load on the platform: many concurrent clients mixing logins, token checks, dataset
creation and credential vending, against one ``shoal serve`` on SQLite and against two
replicas on one PostgreSQL (clients alternate between them, as behind a load balancer).

Prints, per setup: requests per second, p50/p99 latency per kind of request, every status
that was not expected, and checks that every dataset whose creation answered 200 is listed
afterwards (no lost writes). Any 5xx fails the run (exit status 1).

    .venv/bin/python benches/platform_load.py [--clients 200] [--duration 60] [--setup both]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.postgres import PostgresServer  # noqa: E402
from tests.servers.serve_process import ServeProcess, http  # noqa: E402

PASSWORD = "correct horse battery"
#: Kind of request: weight in the mix.
MIX = {"login": 1, "token_check": 4, "create_dataset": 2, "vend_creds": 3}


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = collections.defaultdict(list)
        self.unexpected: collections.Counter[tuple[str, int]] = collections.Counter()
        self.server_errors = 0
        self.created: list[str] = []

    def record(self, kind: str, seconds: float, status: int, ok: set[int]) -> None:
        self.latency[kind].append(seconds)
        if status >= 500:
            self.server_errors += 1
        if status not in ok:
            self.unexpected[(kind, status)] += 1


async def client(
    n: int,
    session: aiohttp.ClientSession,
    urls: list[str],
    user: tuple[str, str],
    until: float,
    stats: Stats,
) -> None:
    name, token = user
    rnd = random.Random(n)
    kinds, weights = list(MIX), list(MIX.values())
    servers = itertools.cycle(urls[n % len(urls) :] + urls[: n % len(urls)])
    created = 0
    auth = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < until:
        kind = rnd.choices(kinds, weights)[0]
        base = next(servers)
        t0 = time.perf_counter()
        try:
            if kind == "login":
                body = {"username": name, "password": PASSWORD}
                async with session.post(base + "/api/user/token", json=body) as r:
                    status = r.status
                    if status == 200:
                        token = (await r.json())["token"]
                        auth = {"Authorization": f"Bearer {token}"}
                ok = {200}
            elif kind == "token_check":
                async with session.get(base + "/api/user/profile", headers=auth) as r:
                    status = r.status
                    await r.read()
                ok = {200}
            elif kind == "create_dataset":
                created += 1
                tag = f"{name}/c{n}-{created}"
                async with session.post(
                    base + "/api/dataset/create", json={"tag": tag}, headers=auth
                ) as r:
                    status = r.status
                    await r.read()
                if status == 200:
                    stats.created.append(tag)
                ok = {200}
            else:
                ds = f"c{n}-{rnd.randint(1, created)}" if created else "shared"
                async with session.get(
                    f"{base}/api/org/{name}/ds/{ds}/creds?mode=w", headers=auth
                ) as r:
                    status = r.status
                    await r.read()
                ok = {200}
        except (TimeoutError, aiohttp.ClientError):
            status = 599  # the connection failed: counted as a server error
        stats.record(kind, time.perf_counter() - t0, status, ok)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)
    )


async def run_load(
    urls: list[str], users: list[tuple[str, str]], clients: int, duration: float
) -> Stats:
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        until = time.monotonic() + duration
        await asyncio.gather(
            *(client(n, session, urls, users[n % len(users)], until, stats) for n in range(clients))
        )
    return stats


def prepare(url: str, count: int) -> list[tuple[str, str]]:
    users = []
    for i in range(count):
        name = f"load{i}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert http(url + "/api/user/register", "POST", body)[0] == 201
        status, got = http(
            url + "/api/user/token", "POST", {"username": name, "password": PASSWORD}
        )
        assert status == 200, got
        token = got["token"]
        assert (
            http(url + "/api/dataset/create", "POST", {"tag": f"{name}/shared"}, token=token)[0]
            == 200
        )
        users.append((name, token))
    return users


def lost_writes(url: str, users: list[tuple[str, str]], created: list[str]) -> int:
    listed: set[str] = set()
    for name, token in users:
        status, body = http(f"{url}/api/org/{name}/datasets", token=token, timeout=120)
        assert status == 200, body
        items = body if isinstance(body, list) else body.get("datasets", [])
        for item in items:
            listed.add(f"{name}/{item['name'] if isinstance(item, dict) else item}")
    return sum(1 for tag in created if tag not in listed)


def report(label: str, stats: Stats, duration: float, lost: int) -> bool:
    total = sum(len(v) for v in stats.latency.values())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n== {label}: {total} requests in {duration:.0f} s = {total / duration:.0f} req/s")
    print(f"   (load average {load} on {os.cpu_count()} CPUs, load generator included)")
    print(f"   {'request':<16}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    every: list[float] = []
    for kind in MIX:
        values = stats.latency.get(kind, [])
        every += values
        print(
            f"   {kind:<16}{len(values):>8}{pct(values, 50) * 1000:>10.1f}"
            f"{pct(values, 99) * 1000:>10.1f}{max(values, default=0) * 1000:>10.1f}"
        )
    print(
        f"   {'all':<16}{len(every):>8}{pct(every, 50) * 1000:>10.1f}{pct(every, 99) * 1000:>10.1f}"
    )
    print(f"   5xx: {stats.server_errors}   datasets created: {len(stats.created)}   lost: {lost}")
    if stats.unexpected:
        print(f"   unexpected statuses: {dict(stats.unexpected)}")
    return stats.server_errors == 0 and lost == 0


def run_setup(label: str, procs: list[ServeProcess], args: argparse.Namespace) -> bool:
    for proc in procs:
        proc.start()
    try:
        urls = [p.url for p in procs]
        users = prepare(urls[0], args.users)
        stats = asyncio.run(run_load(urls, users, args.clients, args.duration))
        lost = lost_writes(urls[-1], users, stats.created)
        return report(label, stats, args.duration, lost)
    finally:
        for proc in procs:
            proc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per setup")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--setup", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    print(
        f"{args.clients} clients, {args.duration:.0f} s per setup, {args.users} users; mix "
        + ", ".join(f"{k} {v}" for k, v in MIX.items())
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="shoal-load-") as tmp:
        base = Path(tmp)
        common = {"log_level": "warning", "secret_key": secrets.token_hex(32)}
        if args.setup in ("sqlite", "both"):
            one = ServeProcess(base / "sqlite", storage_root=str(base / "ds-sqlite"), **common)
            ok &= run_setup("one process, SQLite", [one], args)
        if args.setup in ("postgres", "both"):
            with PostgresServer() as pg:
                shared: dict[str, Any] = {
                    **common,
                    "database_url": pg.new_database(),
                    "storage_root": str(base / "ds-pg"),
                    "creds_encryption_keys": "k1:"
                    + __import__("base64").b64encode(secrets.token_bytes(32)).decode(),
                }
                replicas = [ServeProcess(base / f"pg{i}", **shared) for i in range(2)]
                ok &= run_setup("two replicas, PostgreSQL", replicas, args)
    print("\nresult:", "ok (no 5xx, no lost writes)" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
