"""``kill -9`` of ``shoal serve`` during a burst of writes, on SQLite and on PostgreSQL:
after a restart the database is whole, holds every write the server acknowledged, and the
server takes new writes. A few kill points here; ``benches/serve_crash.py`` runs fifty."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.servers.platform_burst import check_serves, kill_during_burst
from tests.servers.postgres import PostgresServer
from tests.servers.serve_process import ServeProcess

KILLS = 2


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_during_a_burst_of_writes(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings: dict[str, object] = {"scrypt_n": 1024, "storage_root": str(tmp_path / "datasets")}
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        settings["database_url"] = server.new_database()
    proc = ServeProcess(tmp_path / "data", **settings)
    rng = random.Random()
    database = str(settings.get("database_url") or tmp_path / "data" / "platform.db")
    try:
        for kill in range(KILLS):
            acked, counts = kill_during_burst(proc, database, f"k{kill}", rng.uniform(0.05, 0.6))
            assert acked.datasets and counts["users"] >= len(acked.users)
            proc.start()
            check_serves(proc.url, acked, f"probe{kill}")
            proc.stop()
    finally:
        proc.kill()
