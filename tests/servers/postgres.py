"""A real PostgreSQL (Debian's ``postgresql`` package) on loopback, for the platform's tests
and benches: ``initdb`` into a temp dir, ``postgres`` on a free port on 127.0.0.1 only (no
unix socket), password authentication, stopped and removed at the end.

PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user (made by
the Debian package) through ``runuser``, in a directory it owns. ``fsync`` is off: the tests
kill platform processes, never the database server. ``.ci/setup-postgres`` installs the
package where it is missing.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers.seaweedfs import free_port

__all__ = ["PostgresServer", "pg_bin"]


def pg_bin() -> str | None:
    """The directory holding ``initdb``/``pg_ctl``, or None if PostgreSQL is not installed."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return str(Path(os.path.realpath(found)).parent)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return str(Path(versions[-1]).parent) if versions else None


class PostgresServer:
    """One PostgreSQL cluster; :meth:`new_database` hands out empty databases on it."""

    USER = "shoal"

    def __init__(self) -> None:
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL is not installed: run .ci/setup-postgres (apt-get install postgresql)"
            )
        self.bin = Path(bindir)
        self.password = secrets.token_urlsafe(16)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="shoal-pg-"))
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._names = itertools.count()
        self._started = False

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as, *args], check=True, capture_output=True, cwd=self.dir, timeout=120
        )

    def start(self) -> PostgresServer:
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            owner = pwd.getpwnam("postgres")
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.USER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        pwfile.unlink()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                "-c unix_socket_directories=''",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
                "-c shared_buffers=32MB",
            ]
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self._started = True
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.USER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, prefix: str = "shoal") -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._started:
            self._started = False
            subprocess.run(
                [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
                capture_output=True,
                cwd=self.dir,
                timeout=60,
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
