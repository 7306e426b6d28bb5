"""Chunk headers and the index encoders: round trips, the documented byte layouts, errors."""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoal import _native
from shoal.errors import CorruptDataError, TruncatedDataError


def test_module_metadata() -> None:
    assert isinstance(_native.__version__, str) and _native.__version__
    assert _native.build_profile in {"release", "debug"}


def worked_example() -> bytes:
    """The `gen` chunk of the format notes: shapes (2,3) and (3,3), float32, 127 bytes."""
    head = bytes([6]) + b"3.9.52" + struct.pack("<ii", 2, 3)
    head += np.array([[2, 3, 0], [3, 3, 1]], dtype="<u4").tobytes()
    head += struct.pack("<I", 2) + np.array([[24, 0, 0], [36, 24, 1]], dtype="<u4").tobytes()
    return head + bytes(range(60))


def test_worked_example() -> None:
    buf = worked_example()
    assert len(buf) == 127
    h = _native.parse_chunk_header(buf)
    assert h.version == "3.9.52"
    assert h.shapes.dtype == np.uint32 and h.shapes.tolist() == [[2, 3, 0], [3, 3, 1]]
    assert h.byte_positions.tolist() == [[24, 0, 0], [36, 24, 1]]
    assert h.data_offset == 67
    assert h.num_samples == 2
    assert "3.9.52" in repr(h)
    again = _native.serialize_chunk(h.version, h.shapes, h.byte_positions, buf[h.data_offset :])
    assert again == buf


def test_header_arrays_are_read_only() -> None:
    h = _native.parse_chunk_header(worked_example())
    with pytest.raises(ValueError, match="read-only"):
        h.shapes[0, 0] = 9


@pytest.mark.parametrize(
    "kind", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, dtype=np.uint8)]
)
def test_any_buffer_is_accepted(kind: object) -> None:
    buf = worked_example()
    h = _native.parse_chunk_header(kind(buf))  # type: ignore[operator]
    assert h.data_offset == 67


def test_truncated_prefix_reports_needed() -> None:
    buf = worked_example()
    have = 0
    seen = []
    while True:
        try:
            h = _native.parse_chunk_header(buf[:have])
            break
        except TruncatedDataError as e:
            assert isinstance(e, CorruptDataError)
            assert e.needed is not None and e.needed > have
            seen.append(e.needed)
            have = e.needed
    assert h.data_offset == 67
    assert seen == [1, 7, 11, 15, 43, 67]


def test_num_samples_from_byte_positions_and_empty() -> None:
    empty = np.zeros((0, 0), dtype=np.uint32)
    bp = np.array([[4, 0, 9]], dtype=np.uint32)
    h = _native.parse_chunk_header(_native.serialize_chunk("3.9.52", empty, bp, bytes(40)))
    assert h.num_samples == 10
    h = _native.parse_chunk_header(_native.serialize_chunk("3.9.52", empty, empty, b""))
    assert h.num_samples == 0
    assert h.shapes.shape == (0, 0)


@pytest.mark.parametrize("truncate", [False, True])
def test_a_header_longer_than_the_first_bytes_of_a_big_chunk(truncate: bool) -> None:
    """Headers are parsed from a chunk's first bytes; one that does not fit there (many
    samples of differing sizes) is parsed from the whole buffer."""
    n = 8000  # byte-position rows of 12 bytes: a header of about 96 KB
    sizes = np.where(np.arange(n) % 2 == 0, 3, 5).astype(np.uint32)
    ends = np.cumsum(sizes)
    bp = np.stack([sizes, ends - sizes, np.arange(n)], axis=1).astype(np.uint32)
    shapes = np.array([[1, n - 1]], dtype=np.uint32)
    body = bytes(int(ends[-1])) + bytes(1 << 20)
    buf = _native.serialize_chunk("3.9.52", shapes, bp, body)
    if truncate:
        with pytest.raises(TruncatedDataError):
            _native.parse_chunk_header(buf[:90_000])
        return
    h = _native.parse_chunk_header(memoryview(buf))
    assert h.data_offset > 90_000 and h.num_samples == n
    assert h.byte_positions.tolist() == bp.tolist()


def test_negative_sizes_are_corrupt() -> None:
    buf = bytes([0]) + struct.pack("<ii", -1, 3)
    with pytest.raises(CorruptDataError):
        _native.parse_chunk_header(buf)


def test_serialize_chunk_rejects_bad_arguments() -> None:
    ok = np.zeros((1, 3), dtype=np.uint32)
    with pytest.raises(ValueError):
        _native.serialize_chunk("3.9.52", ok, np.zeros((1, 2), dtype=np.uint32), b"")
    with pytest.raises(TypeError):
        _native.serialize_chunk("3.9.52", ok.astype(np.int64), ok, b"")
    with pytest.raises(TypeError):
        _native.serialize_chunk("3.9.52", ok[0], ok, b"")
    with pytest.raises(ValueError):
        _native.serialize_chunk("x" * 256, ok, ok, b"")
    with pytest.raises(TypeError):
        _native.serialize_chunk("3.9.52", ok, ok, "not bytes")  # type: ignore[arg-type]


def u32_tables(cols: st.SearchStrategy[int]) -> st.SearchStrategy[npt.NDArray[np.uint32]]:
    return st.tuples(st.integers(0, 6), cols).flatmap(
        lambda rc: st.lists(
            st.integers(0, 2**32 - 1), min_size=rc[0] * rc[1], max_size=rc[0] * rc[1]
        ).map(lambda v: np.array(v, dtype=np.uint32).reshape(rc))
    )


versions = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)


@given(versions, u32_tables(st.integers(1, 5)), u32_tables(st.just(3)), st.binary(max_size=200))
def test_chunk_round_trip(
    version: str,
    shapes: npt.NDArray[np.uint32],
    bp: npt.NDArray[np.uint32],
    data: bytes,
) -> None:
    buf = _native.serialize_chunk(version, shapes, bp, data)
    h = _native.parse_chunk_header(buf)
    assert h.version == version
    np.testing.assert_array_equal(h.shapes, shapes)
    assert h.shapes.shape == shapes.shape
    np.testing.assert_array_equal(h.byte_positions, bp)
    assert buf[h.data_offset :] == data
    # Non-contiguous inputs are accepted too.
    wide = np.zeros((shapes.shape[0], shapes.shape[1] * 2), dtype=np.uint32)
    wide[:, ::2] = shapes
    assert _native.serialize_chunk(version, wide[:, ::2], bp, data) == buf


def test_chunk_ids_example() -> None:
    buf = bytes([6]) + b"3.9.52" + bytes([8]) + bytes.fromhex("f34768c757a2df7b")
    buf += struct.pack("<Q", 1)
    version, table = _native.parse_chunk_ids(buf)
    assert version == "3.9.52"
    assert table.dtype == np.uint64 and table.tolist() == [[0x7BDFA257C76847F3, 1]]
    assert _native.serialize_chunk_ids(version, table) == buf


def test_legacy_chunk_ids_have_no_dtype_byte() -> None:
    buf = bytes([5]) + b"2.7.5" + np.array([[7, 3], [9, 10]], dtype="<u4").tobytes()
    version, table = _native.parse_chunk_ids(buf)
    assert version == "2.7.5"
    assert table.dtype == np.uint64 and table.tolist() == [[7, 3], [9, 10]]
    with pytest.raises(ValueError):
        _native.serialize_chunk_ids("2.7.5", table)
    with pytest.raises(CorruptDataError):
        _native.parse_chunk_ids(bytes([6]) + b"3.9.52" + bytes([5]))


@given(
    st.sampled_from(["3.9.52", "2.7.6", "4.0.0"]),
    st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)), max_size=20),
)
def test_chunk_ids_round_trip(version: str, rows: list[tuple[int, int]]) -> None:
    table = np.array(rows, dtype=np.uint64).reshape(-1, 2)
    buf = _native.serialize_chunk_ids(version, table)
    v, back = _native.parse_chunk_ids(buf)
    assert v == version
    np.testing.assert_array_equal(back, table)


@given(versions, u32_tables(st.integers(1, 4)))
def test_u32_encoder_round_trip(version: str, table: npt.NDArray[np.uint32]) -> None:
    buf = _native.serialize_u32_encoder(version, table)
    v, back = _native.parse_u32_encoder(buf, table.shape[1])
    assert v == version
    assert back.shape == table.shape
    np.testing.assert_array_equal(back, table)


def test_u32_encoder_errors() -> None:
    buf = _native.serialize_u32_encoder("3.9.52", np.arange(6, dtype=np.uint32).reshape(2, 3))
    with pytest.raises(ValueError):
        _native.parse_u32_encoder(buf, 0)
    with pytest.raises(CorruptDataError):
        _native.parse_u32_encoder(buf, 4)


tile_entries = st.integers(0, 4).flatmap(
    lambda ndim: st.dictionaries(
        st.integers(0, 2**64 - 1),
        st.tuples(
            st.tuples(*[st.integers(0, 2**64 - 1)] * ndim),
            st.tuples(*[st.integers(0, 2**64 - 1)] * ndim),
        ),
        max_size=8,
    )
)


@given(versions, tile_entries)
def test_tile_encoder_round_trip(
    version: str, entries: dict[int, tuple[tuple[int, ...], tuple[int, ...]]]
) -> None:
    buf = _native.serialize_tile_encoder(version, entries)
    v, back = _native.parse_tile_encoder(buf)
    assert v == version
    assert back == entries
    assert list(back) == sorted(entries)


def test_tile_encoder_layout() -> None:
    buf = _native.serialize_tile_encoder("3.9.52", {0: ([40, 30], [20, 30])})
    assert buf == bytes([6]) + b"3.9.52" + struct.pack("<7Q", 1, 2, 0, 40, 30, 20, 30)
    assert _native.serialize_tile_encoder("3.9.52", {}) == bytes([6]) + b"3.9.52" + bytes(8)


def test_tile_encoder_errors() -> None:
    with pytest.raises(ValueError):
        _native.serialize_tile_encoder("3.9.52", {0: ((1, 2), (1,))})
    with pytest.raises(ValueError):
        _native.serialize_tile_encoder("3.9.52", {0: ((1,), (1,)), 1: ((1, 2), (1, 2))})
    with pytest.raises(ValueError):
        _native.serialize_tile_encoder("3.9.52", {-1: ((1,), (1,))})
    with pytest.raises(TypeError):
        _native.serialize_tile_encoder("3.9.52", [(0, ((1,), (1,)))])  # type: ignore[arg-type]
    buf = _native.serialize_tile_encoder("3.9.52", {3: ((4,), (2,))})
    with pytest.raises(TruncatedDataError) as info:
        _native.parse_tile_encoder(buf[:-1])
    assert info.value.needed == len(buf)
    with pytest.raises(CorruptDataError):
        _native.parse_tile_encoder(buf + b"\0")
