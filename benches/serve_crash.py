"""``kill -9`` of ``shoal serve`` at many moments of a burst of writes (fifty by default),
on SQLite and on PostgreSQL: after each kill the database must be whole and hold every
acknowledged write, and the restarted server must take new writes. Prints what each kill
interrupted and the totals; exits 1 on the first inconsistency.

    .venv/bin/python benches/serve_crash.py [--kills 50] [--backend both]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.platform_burst import check_serves, kill_during_burst  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402
from tests.servers.serve_process import ServeProcess  # noqa: E402


def run(backend: str, kills: int, base: Path, pg: PostgresServer | None, seed: int) -> None:
    settings: dict[str, object] = {"scrypt_n": 1024, "storage_root": str(base / "datasets")}
    if pg is not None:
        settings["database_url"] = pg.new_database()
    database = str(settings.get("database_url") or base / "data" / "platform.db")
    proc = ServeProcess(base / "data", log_level="warning", **settings)
    rng = random.Random(seed)
    acked_total = 0
    t0 = time.monotonic()
    try:
        for kill in range(kills):
            acks, counts = kill_during_burst(proc, database, f"k{kill}", rng.uniform(0.0, 0.8))
            acked = len(acks.users) + len(acks.datasets) + len(acks.tokens)
            acked_total += acked
            proc.start()
            check_serves(proc.url, acks, f"probe{kill}")
            proc.stop()
            print(f"  {backend} kill {kill + 1:>2}: {acked:>4} acknowledged writes kept; {counts}")
    finally:
        proc.kill()
    print(
        f"== {backend}: {kills} kills, {acked_total} acknowledged writes, all kept; database "
        f"consistent after every kill ({time.monotonic() - t0:.0f} s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = parser.parse_args()
    print(f"seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="shoal-crash-") as tmp:
        if args.backend in ("sqlite", "both"):
            run("sqlite", args.kills, Path(tmp) / "sqlite", None, args.seed)
        if args.backend in ("postgres", "both"):
            with PostgresServer() as pg:
                run("postgres", args.kills, Path(tmp) / "pg", pg, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
