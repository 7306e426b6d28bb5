"""Port 7777, the one port the real deeplake 3.9.52 client talks to a local backend on.

deeplake hard-codes ``http://localhost:7777``, so the client-interop tests cannot pick a free
port. Under pytest-xdist two workers would start their platforms there at once, so a test holds
an exclusive lock on a file in the temp dir for as long as its platform runs: the other worker's
test waits for it. (pytest-xdist's ``xdist_group`` cannot do this: under pytest 9 its
``--dist loadgroup`` no longer groups anything.)
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

DEEPLAKE_PORT = 7777
_LOCK = Path(tempfile.gettempdir()) / "shoal-tests-port-7777.lock"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def deeplake_port() -> Iterator[int]:
    """Hold port 7777 against this run's other workers; fail clearly if something else has it."""
    with open(_LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # waits while another worker's test holds the port
        if not _port_free(DEEPLAKE_PORT):
            pytest.fail(
                f"port {DEEPLAKE_PORT} on 127.0.0.1 is taken, and deeplake 3.9.52 can only talk "
                f"to a local backend on http://localhost:{DEEPLAKE_PORT}; stop whatever holds it "
                f"(`ss -ltnp 'sport = :{DEEPLAKE_PORT}'`) and run again",
                pytrace=False,
            )
        yield DEEPLAKE_PORT
