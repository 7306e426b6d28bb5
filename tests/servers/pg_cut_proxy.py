"""A TCP proxy on loopback in front of PostgreSQL that cuts a connection at its next
``COMMIT``: once the server has answered it (the server committed, the client never hears), or
instead of forwarding it (the server rolls back once it sees the client gone); and, when
asked, refuses new connections from then on (nobody can ask the server what happened).

PostgreSQL's wire protocol carries a statement's text NUL-terminated, in a simple query
(``Q``) or a parse (``P``) message alike, so ``COMMIT\\0`` in the client's bytes is a COMMIT
being sent (the tests connect with ``sslmode=disable``). Runs its own event loop on a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from typing import Literal

__all__ = ["CommitCutProxy"]

Mode = Literal["after", "instead"]
_COMMIT = b"COMMIT\x00"


class CommitCutProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        #: Connections cut so far.
        self.cuts = 0
        self._armed: Mode | None = None
        self._refuse_after_cut = False
        #: While set, new connections are refused (the database unreachable).
        self.refusing = False
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name="pg-cut-proxy", daemon=True)

    def arm(self, mode: Mode, then_refuse: bool = False) -> None:
        """Cut the next COMMIT that passes, ``after`` the server answers it or ``instead`` of it;
        ``then_refuse``: from that cut on, refuse new connections (until :meth:`reopen`)."""
        with self._lock:
            self._armed = mode
            self._refuse_after_cut = then_refuse

    def reopen(self) -> None:
        """Accept new connections again."""
        with self._lock:
            self.refusing = False

    def url(self, upstream_url: str) -> str:
        """``upstream_url`` (``postgresql://user:pw@127.0.0.1:PORT/db``) through the proxy."""
        head, _, rest = upstream_url.partition("@")
        _, _, db = rest.partition("/")
        return f"{head}@127.0.0.1:{self.port}/{db}?sslmode=disable"

    def _take(self) -> Mode | None:
        with self._lock:
            mode, self._armed = self._armed, None
            return mode

    # -- the proxy --------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()
        # Stopped: end what is still open, then the loop itself.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _client(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            c_writer.close()  # the database looks unreachable: the connection ends at once
            return
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            c_writer.close()
            return
        cut = asyncio.Event()
        answered = asyncio.Event()  # "after": the COMMIT is forwarded; cut at its answer

        def count_cut() -> None:
            cut.set()
            with self._lock:
                self.cuts += 1
                self.refusing = self.refusing or self._refuse_after_cut

        async def up() -> None:
            while not cut.is_set():
                data = await c_reader.read(65536)
                if not data:
                    break
                mode = self._take() if _COMMIT in data else None
                if mode is None:
                    s_writer.write(data)
                    await s_writer.drain()
                    continue
                if mode == "instead":
                    # The client's half-sent COMMIT never arrives: the server sees the client
                    # go away in the middle of its transaction.
                    self._cut(c_writer, s_writer)
                    count_cut()
                else:
                    # The COMMIT reaches the server; the connection is cut when the server
                    # answers, so the commit has happened and the client never hears of it.
                    s_writer.write(data)
                    answered.set()
                return
            s_writer.close()

        async def down() -> None:
            while not cut.is_set():
                data = await s_reader.read(65536)
                if not data or cut.is_set():
                    break
                if answered.is_set():
                    self._cut(c_writer, s_writer)
                    count_cut()
                    break
                c_writer.write(data)
                await c_writer.drain()
            if not cut.is_set():
                c_writer.close()

        with contextlib.suppress(OSError, ConnectionError):
            await asyncio.gather(up(), down())

    @staticmethod
    def _cut(client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        server.close()
        # The client hears a reset, as from a cable pulled: no reply, no orderly goodbye.
        sock = client.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()

    def __enter__(self) -> CommitCutProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
