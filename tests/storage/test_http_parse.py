"""The lean GET client's response parser, fed valid responses split at random and malformed
ones (truncated bodies, bad Content-Length, bad chunk sizes, garbage): the body comes out
whole, or a clear error does -- the end of the input always ends the response one way or the
other, so a caller never waits for bytes that cannot come."""

from __future__ import annotations

import pytest
from botocore.exceptions import IncompleteReadError  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.storage._http_parse import SCRATCH, BadResponse, ResponseParser, ServerClosed

ERRORS = (BadResponse, ServerClosed, IncompleteReadError)


def feed(parser: ResponseParser, data: bytes, cuts: list[int] | None = None) -> bool:
    """Write ``data`` as the socket would (in pieces no larger than the parser's buffer,
    split at ``cuts``); True once the response is complete, else the end of the input is
    reported and its verdict returned."""
    parser.start()
    pos = 0
    points = [*sorted({c for c in cuts or [] if 0 < c < len(data)}), len(data)]
    for point in points:
        while pos < point:
            buf = parser.buffer()
            assert len(buf) > 0
            n = min(len(buf), point - pos)
            buf[:n] = data[pos : pos + n]
            pos += n
            if parser.advance(n):
                return True
    return parser.eof()


def response(body: bytes, *, chunked: bool = False, extra: str = "", pieces: int = 3) -> bytes:
    if not chunked:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        return head.encode() + body
    out = f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{extra}\r\n".encode()
    step = max(1, len(body) // pieces)
    for i in range(0, len(body), step):
        part = body[i : i + step]
        out += f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n"
    return out + b"0\r\nX-Trailer: yes\r\n\r\n"


BODIES = st.one_of(
    st.binary(max_size=300),
    st.integers(0, 3 * SCRATCH).map(lambda n: bytes(range(256)) * (n // 256) + b"x" * (n % 256)),
)


@settings(max_examples=150, deadline=None)
@given(body=BODIES, chunked=st.booleans(), cuts=st.lists(st.integers(0, 4 * SCRATCH)))
def test_valid_responses_split_anywhere(body: bytes, chunked: bool, cuts: list[int]) -> None:
    parser = ResponseParser()
    assert feed(parser, response(body, chunked=chunked), cuts)
    assert parser.status == 200 and parser.keep_alive
    assert parser.body().tobytes() == body
    assert parser.body().readonly


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(min_size=1, max_size=2000),
    chunked=st.booleans(),
    cut=st.integers(0, 10_000),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cuts=st.lists(st.integers(0, 3000), max_size=5),
)
def test_damaged_responses_end_in_a_body_or_a_clear_error(
    body: bytes, chunked: bool, cut: int, flips: list[tuple[int, int]], cuts: list[int]
) -> None:
    data = bytearray(response(body, chunked=chunked))
    for where, value in flips:
        data[where % len(data)] = value
    data = data[: cut % (len(data) + 1)]
    parser = ResponseParser()
    try:
        done = feed(parser, bytes(data), cuts)
    except ERRORS as exc:
        assert str(exc)  # says what was wrong
        return
    # no error: the response ended (the input cannot be "still pending" after its end)
    assert done or parser.status
    if done:
        assert isinstance(parser.body().tobytes(), bytes)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", IncompleteReadError, "5"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", BadResponse, "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", BadResponse, "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", BadResponse, "Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            BadResponse,
            "two different Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            BadResponse,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x10\r\n",
            BadResponse,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
            BadResponse,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n",
            BadResponse,
            "no CRLF",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 20_000,
            BadResponse,
            "longer than",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            IncompleteReadError,
            "chunked",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            BadResponse,
            "Transfer-Encoding",
        ),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", BadResponse, "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", BadResponse, "header line"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Big: y\r\n" * 8000, BadResponse, "head longer"),
        (b"", ServerClosed, "before answering"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", ServerClosed, "response head"),
    ],
)
def test_malformed_responses_are_clear_errors(
    data: bytes, error: type[Exception], message: str
) -> None:
    parser = ResponseParser()
    with pytest.raises(error, match=message):
        feed(parser, data, [7, 50, 300])


def test_framing_and_connection_reuse() -> None:
    parser = ResponseParser()
    # no body for 204; a 100 Continue before the answer is skipped
    assert feed(parser, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert parser.status == 204 and parser.body().tobytes() == b"" and parser.keep_alive
    # the server says it closes, or HTTP/1.0 without keep-alive: not reused
    assert feed(parser, response(b"abc", extra="Connection: close\r\n"))
    assert not parser.keep_alive
    assert feed(parser, b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    assert not parser.keep_alive
    # neither length nor chunked: the body runs to the end of the connection
    assert feed(parser, b"HTTP/1.1 200 OK\r\n\r\n" + b"z" * 100_000)
    assert parser.body().tobytes() == b"z" * 100_000 and not parser.keep_alive
    # bytes past the body: the answer is fine, the connection is not reused
    assert feed(parser, response(b"abc") + b"junk")
    assert parser.body().tobytes() == b"abc" and not parser.keep_alive
    # headers are case-insensitive, values trimmed
    assert feed(
        parser, b"HTTP/1.1 404 Not Found\r\nX-Amz-Request-Id:  r1 \r\ncontent-length: 0\r\n\r\n"
    )
    assert parser.status == 404 and parser.headers["x-amz-request-id"] == "r1"
