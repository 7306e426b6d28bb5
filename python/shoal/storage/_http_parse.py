"""HTTP/1.1 responses parsed as they arrive, their bodies read straight into their final buffer.

The parser of the lean GET client (:mod:`._http_get`). It owns the buffers the socket reads
into (the ``asyncio.BufferedProtocol`` contract): :meth:`ResponseParser.buffer` says where the
next bytes go, :meth:`~ResponseParser.advance` how many arrived. The head and a small body
land in a scratch buffer kept for the connection's life; a body announced by
``Content-Length`` that does not fit there gets one uninitialised buffer of that size
(recycled, see :mod:`._buffers`), which the kernel fills directly and which is handed
on as it is: no joining of blocks, no copy.
Chunked bodies (no store answers a GET that way, but HTTP allows it) are decoded through the
scratch buffer; a body with neither framing runs to the end of the connection.

Malformed input is a :class:`BadResponse` naming what was wrong; a connection that ends too
early is :class:`ServerClosed` (before the body) or botocore's ``IncompleteReadError``
(mid-body), so the S3 provider's retry policy treats them as it treats aiohttp's and
botocore's own. The parser never waits on its own: every state either consumes what it was
given or asks for more, and the end of the connection ends every state.
"""

from __future__ import annotations

import re

import numpy as np
from botocore.exceptions import IncompleteReadError  # type: ignore[import-untyped]

from ._buffers import BUFFERS

SCRATCH = 64 * 1024  # the head (and a small body) must fit; S3's heads are under 2 KiB
_LINE_LIMIT = 8 * 1024  # a chunk-size or trailer line
_TRAILER_LIMIT = 32 * 1024
_STATUS = re.compile(r"HTTP/1\.([01]) ([1-9][0-9]{2})(?: [^\r\n]*)?")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DIGITS = re.compile(r"[0-9]{1,18}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")

# states
HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILER, TO_EOF, DONE = range(8)


class BadResponse(ConnectionError):
    """The server's answer is not valid HTTP/1.1 (the connection is dropped, the GET retried)."""


class ServerClosed(ConnectionResetError):
    """The connection ended before a whole response head arrived."""

    def __init__(self, message: str, nothing_received: bool) -> None:
        super().__init__(message)
        self.nothing_received = nothing_received  # a stale keep-alive connection, say


class ResponseParser:
    """One connection's responses, one at a time: :meth:`start` before each request."""

    def __init__(self) -> None:
        self.scratch = bytearray(SCRATCH)
        self._view = memoryview(self.scratch)
        self.state = DONE
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.keep_alive = True
        self.length: int | None = None  # Content-Length, once the head is parsed
        self.received = 0  # bytes of this response so far (head included)
        self._pos = 0  # scratch: bytes consumed ...
        self._filled = 0  # ... and bytes present
        self._body: np.ndarray | None = None
        self._got = 0
        self._out = bytearray()  # chunked and to-EOF bodies
        self._remaining = 0  # of the current chunk
        self._trailer = 0
        self._small: bytes | None = None

    def start(self) -> None:
        self._reset()
        self.state = HEAD

    # -- the BufferedProtocol side -----------------------------------------------------------
    def buffer(self) -> memoryview:
        """Where the next bytes go (never empty)."""
        if self.state == BODY:
            assert self._body is not None
            return memoryview(self._body)[self._got :]  # type: ignore[arg-type]
        if self._filled == len(self.scratch):
            self._compact()
        return self._view[self._filled :]

    def advance(self, n: int) -> bool:
        """``n`` bytes were written into :meth:`buffer`; True once the response is complete.
        Raises :class:`BadResponse` for malformed input."""
        self.received += n
        if self.state == BODY:
            self._got += n
            if self._got == self.length:
                self.state = DONE
                return True
            return False
        if self.state == DONE:
            # Bytes nobody asked for (no request is pipelined): the connection is unusable.
            self.keep_alive = False
            self._filled = self._pos = 0
            return False
        old = self._filled
        self._filled += n
        if self.state == HEAD:
            return self._head(old)
        return self._more()

    def eof(self) -> bool:
        """The server closed the connection; True if that completed the response (a body
        running to the end of the connection). Raises what a cut-off response is."""
        state = self.state
        if state == TO_EOF:
            self._out += self._view[self._pos : self._filled]
            self._pos = self._filled
            self.state = DONE
            self.keep_alive = False
            return True
        if state == DONE:
            return False
        if state == HEAD:
            got = self._filled
            raise ServerClosed(
                "the server closed the connection before answering"
                if got == 0
                else f"the server closed the connection after {got} bytes of the response head",
                got == 0,
            )
        if state == BODY:
            raise IncompleteReadError(actual_bytes=self._got, expected_bytes=self.length)
        raise IncompleteReadError(actual_bytes=len(self._out), expected_bytes="chunked")

    def body(self) -> memoryview:
        """The complete body (read-only)."""
        if self._small is not None:
            return memoryview(self._small)
        body, self._body = self._body, None  # the caller's now: not held by the connection
        if body is not None:
            body.flags.writeable = False
            return memoryview(body)  # type: ignore[arg-type]
        return memoryview(bytes(self._out))

    # -- the head ----------------------------------------------------------------------------
    def _head(self, old: int) -> bool:
        end = self.scratch.find(b"\r\n\r\n", max(self._pos, old - 3), self._filled)
        if end < 0:
            if self._pos == 0 and self._filled == len(self.scratch):
                raise BadResponse(f"response head longer than {SCRATCH} bytes")
            return False
        text = bytes(self._view[self._pos : end]).decode("latin-1")
        self._pos = end + 4
        lines = text.split("\r\n")
        m = _STATUS.fullmatch(lines[0])
        if m is None:
            raise BadResponse(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(m.group(2))
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not _TOKEN.fullmatch(name):
                raise BadResponse(f"malformed header line {line[:80]!r}")
            name = name.lower()
            value = value.strip(" \t")
            if name in headers:
                if name == "content-length" and headers[name] != value:
                    raise BadResponse(
                        f"two different Content-Length values: {headers[name]!r}, {value!r}"
                    )
                headers[name] = f"{headers[name]}, {value}"
            else:
                headers[name] = value
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            return self._head(self._pos) if self._pos < self._filled else self._rewind()
        self.status = status
        self.headers = headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection and (
            m.group(1) == "1" or "keep-alive" in connection
        )
        return self._framing()

    def _rewind(self) -> bool:
        self._pos = self._filled = 0
        return False

    def _framing(self) -> bool:
        headers = self.headers
        coding = headers.get("transfer-encoding")
        if coding is not None:
            codings = [c.strip().lower() for c in coding.split(",")]
            if codings != ["chunked"]:
                raise BadResponse(f"unsupported Transfer-Encoding {coding[:80]!r}")
            self.state = CHUNK_SIZE
            return self._more()
        raw = headers.get("content-length")
        if self.status in (204, 304):
            self.length = 0
        elif raw is not None:
            value = raw.split(",")[0].strip()
            if not _DIGITS.fullmatch(value):
                raise BadResponse(f"bad Content-Length {raw[:40]!r}")
            self.length = int(value)
        else:
            self.state = TO_EOF
            self.keep_alive = False
            return False
        length = self.length
        here = self._filled - self._pos
        if here >= length:
            if here > length:
                self.keep_alive = False  # bytes past the body: not a connection to reuse
            self._small = bytes(self._view[self._pos : self._pos + length])
            self.state = DONE
            return True
        self._body = BUFFERS.take(length)  # uninitialised (recycled): the socket fills it
        self._body[:here] = np.frombuffer(self.scratch, np.uint8, here, self._pos)
        self._got = here
        self._pos = self._filled = 0
        self.state = BODY
        return False

    # -- chunked and to-EOF bodies -----------------------------------------------------------
    def _compact(self) -> None:
        if self._pos:
            rest = self._filled - self._pos
            self.scratch[:rest] = self._view[self._pos : self._filled]
            self._pos, self._filled = 0, rest
        elif self.state == TO_EOF:
            self._out += self.scratch
            self._filled = 0

    def _line(self) -> bytes | None:
        end = self.scratch.find(b"\r\n", self._pos, self._filled)
        if end < 0:
            if self._filled - self._pos > _LINE_LIMIT:
                raise BadResponse(f"a chunk-size or trailer line longer than {_LINE_LIMIT} bytes")
            return None
        line = bytes(self._view[self._pos : end])
        self._pos = end + 2
        return line

    def _more(self) -> bool:
        while True:
            state = self.state
            if state == TO_EOF:
                self._out += self._view[self._pos : self._filled]
                self._pos = self._filled = 0
                return False
            if state == CHUNK_DATA:
                take = min(self._remaining, self._filled - self._pos)
                self._out += self._view[self._pos : self._pos + take]
                self._pos += take
                self._remaining -= take
                if self._remaining:
                    self._pos = self._filled = 0
                    return False
                self.state = CHUNK_END
                continue
            if state == CHUNK_END:
                if self._filled - self._pos < 2:
                    return False
                if self.scratch[self._pos : self._pos + 2] != b"\r\n":
                    raise BadResponse("chunk data longer than its chunk size (no CRLF after it)")
                self._pos += 2
                self.state = CHUNK_SIZE
                continue
            line = self._line()
            if line is None:
                return False
            if state == CHUNK_SIZE:
                size = line.split(b";", 1)[0].strip(b" \t")
                if not _HEX.fullmatch(size):
                    raise BadResponse(f"bad chunk size {line[:40]!r}")
                self._remaining = int(size, 16)
                self.state = CHUNK_DATA if self._remaining else TRAILER
                continue
            # TRAILER: header lines up to an empty one
            self._trailer += len(line) + 2
            if self._trailer > _TRAILER_LIMIT:
                raise BadResponse(f"chunked trailer longer than {_TRAILER_LIMIT} bytes")
            if not line:
                if self._pos < self._filled:
                    self.keep_alive = False
                self.length = len(self._out)
                self.state = DONE
                return True
