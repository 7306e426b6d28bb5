"""The data dir and the database files are the server's alone: the directory is 0700 and
``platform.db`` (with its ``-wal`` and ``-shm``) 0600, since they hold password hashes, token
ids and encrypted credentials. A directory or file that other local users can read is
tightened at start, with a warning saying what was changed."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["private_db_files", "private_dir"]

log = logging.getLogger("shoal.platform")

_DIR_MODE = 0o700
_FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` (mode 0700), or tighten it to 0700 if others may read it."""
    p = Path(path)
    if not p.exists():
        p.mkdir(parents=True, mode=_DIR_MODE)
    _tighten(p, _DIR_MODE)


def private_db_files(db_path: str | os.PathLike[str]) -> None:
    """Create the database file 0600 before SQLite does (its ``-wal`` and ``-shm`` take the
    database file's mode), and tighten the three if they exist with a wider mode."""
    p = Path(db_path)
    if not p.exists():
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, _FILE_MODE))
    for f in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")):
        if f.exists():
            _tighten(f, _FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077 == 0:
        return
    os.chmod(path, current & mode)
    log.warning(
        "tightened permissions",
        extra={
            "fields": {
                "path": str(path),
                "was": oct(current),
                "now": oct(current & mode),
                "why": "other local users could read the platform's data",
            }
        },
    )
