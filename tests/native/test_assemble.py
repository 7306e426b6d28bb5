"""assemble: one pass from byte ranges of many sources into one output array."""

from __future__ import annotations

import io

import lz4.block
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from shoal import _native
from shoal.errors import CodecError


def plan(rows: list[tuple[int, int, int, int, int]]) -> npt.NDArray[np.int64]:
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_raw_copies_into_any_dtype(threads: int) -> None:
    samples = np.arange(24, dtype=np.float32).reshape(4, 6)
    chunk_a = b"HEADER" + samples[:2].tobytes()
    chunk_b = bytearray(samples[2:].tobytes())
    out = np.zeros((4, 6), dtype=np.float32)
    row = samples[0].nbytes
    p = plan(
        [
            (1, row, 2 * row, 3 * row, row),  # sample 3
            (0, 6, 6 + row, 0, row),  # sample 0
            (1, 0, row, 2 * row, row),  # sample 2
            (0, 6 + row, 6 + 2 * row, row, row),  # sample 1
        ]
    )
    _native.assemble(out, [chunk_a, chunk_b], p, "none", threads)
    np.testing.assert_array_equal(out, samples)


def test_large_copy_split_across_threads() -> None:
    src = np.random.default_rng(0).integers(0, 255, size=5_000_000, dtype=np.uint8)
    out = np.empty_like(src)
    _native.assemble(out, [src], plan([(0, 0, src.size, 0, src.size)]), threads=2)
    np.testing.assert_array_equal(out, src)


@given(
    st.lists(st.binary(min_size=0, max_size=50), min_size=1, max_size=12),
    st.randoms(use_true_random=False),
    st.integers(1, 3),
)
def test_raw_scatter_matches_python(parts: list[bytes], rnd: object, threads: int) -> None:
    # Sources: the parts concatenated in one buffer; output: the parts in a shuffled order.
    import random

    assert isinstance(rnd, random.Random)
    src = b"".join(parts)
    starts = np.cumsum([0, *map(len, parts)])
    order = list(range(len(parts)))
    rnd.shuffle(order)
    out = np.zeros(len(src), np.uint8)
    rows = []
    want = bytearray()
    for i in order:
        rows.append((0, int(starts[i]), int(starts[i + 1]), len(want), len(parts[i])))
        want += parts[i]
    _native.assemble(out, [src], plan(rows), "none", threads)
    assert out.tobytes() == bytes(want)


@pytest.mark.parametrize("threads", [1, 2])
def test_lz4_samples(threads: int) -> None:
    samples = [
        np.full((3, 5), i, dtype=np.uint16) * np.arange(5, dtype=np.uint16) for i in range(7)
    ]
    blobs = [lz4.block.compress(s.tobytes()) for s in samples]
    chunk = b"".join(blobs)
    offs = np.cumsum([0, *map(len, blobs)])
    out = np.zeros((7, 3, 5), dtype=np.uint16)
    n = samples[0].nbytes
    rows = [(0, int(offs[i]), int(offs[i + 1]), i * n, n) for i in range(7)]
    _native.assemble(out, [chunk], plan(rows), "lz4", threads)
    np.testing.assert_array_equal(out, np.stack(samples))


@pytest.mark.parametrize("codec", ["png", "jpeg"])
@pytest.mark.parametrize("threads", [1, 2])
def test_image_samples_match_pillow(codec: str, threads: int) -> None:
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 255, size=(16, 12, 3), dtype=np.uint8) for _ in range(5)]
    blobs = []
    for im in images:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, codec.upper())
        blobs.append(buf.getvalue())
    want = [np.asarray(Image.open(io.BytesIO(b))) for b in blobs]
    sources = [*blobs[:2], b"".join(blobs[2:])]
    offs = np.cumsum([0, *map(len, blobs[2:])])
    n = images[0].nbytes
    rows = [(0, 0, len(blobs[0]), 0, n), (1, 0, len(blobs[1]), n, n)]
    rows += [(2, int(offs[i]), int(offs[i + 1]), (i + 2) * n, n) for i in range(3)]
    out = np.zeros((5, 16, 12, 3), dtype=np.uint8)
    _native.assemble(out, sources, plan(rows), codec, threads)
    np.testing.assert_array_equal(out, np.stack(want))


def test_decoded_size_must_match() -> None:
    blob = _native.png_encode(np.zeros((4, 4), np.uint8))
    out = np.zeros(20, np.uint8)
    with pytest.raises(CodecError, match="plan row 0"):
        _native.assemble(out, [blob], plan([(0, 0, len(blob), 0, 20)]), "png")
    packed = lz4.block.compress(bytes(10))
    with pytest.raises(CodecError):
        _native.assemble(out, [packed], plan([(0, 0, len(packed), 0, 11)]), "lz4")
    with pytest.raises(CodecError):
        _native.assemble(out, [b"garbage!"], plan([(0, 0, 8, 0, 8)]), "jpeg")


@pytest.mark.parametrize(
    "rows",
    [
        [(0, 0, 4, 0, 4), (0, 0, 4, 2, 4)],  # overlapping destinations
        [(0, 0, 4, 6, 4)],  # destination past the end
        [(0, 4, 12, 0, 8)],  # source range past the end
        [(1, 0, 4, 0, 4)],  # no such source
        [(0, 0, 4, 0, 3)],  # raw size mismatch
        [(0, 3, 2, 0, 0)],  # reversed range
        [(0, -1, 3, 0, 4)],  # negative
        [(0, 0, 4, 2**62, 4)],  # huge offset
    ],
)
def test_bad_plans_are_value_errors(rows: list[tuple[int, int, int, int, int]]) -> None:
    out = np.zeros(8, np.uint8)
    with pytest.raises(ValueError):
        _native.assemble(out, [b"abcdefgh"], plan(rows))
    assert not out.any(), "nothing is written before the plan is validated"


def test_bad_arguments() -> None:
    src = [b"abcd"]
    good = plan([(0, 0, 4, 0, 4)])
    with pytest.raises(ValueError):
        _native.assemble(np.zeros(4, np.uint8), src, good, "zstd")
    with pytest.raises(ValueError):
        _native.assemble(np.zeros(4, np.uint8), src, good, threads=0)
    with pytest.raises(ValueError):
        _native.assemble(np.zeros(4, np.uint8), src, good[:, :4])
    with pytest.raises(TypeError):
        _native.assemble(np.zeros(4, np.uint8), src, good.astype(np.int32))
    with pytest.raises(TypeError):
        _native.assemble(bytearray(4), src, good)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        _native.assemble(np.zeros(8, np.uint8)[::2], src, good)
    ro = np.zeros(4, np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        _native.assemble(ro, src, good)
    with pytest.raises(TypeError):
        _native.assemble(np.zeros(4, object), src, good)
    out = np.zeros(8, np.uint8)
    with pytest.raises(ValueError):
        _native.assemble(out, [out[4:]], plan([(0, 0, 4, 0, 4)]))


def test_empty_plan_and_zero_sized_rows() -> None:
    out = np.zeros(4, np.uint8)
    _native.assemble(out, [], plan([]))
    _native.assemble(out, [b""], plan([(0, 0, 0, 2, 0)]), "png")
    _native.assemble(out, [bytes(5)], plan([(0, 0, 5, 4, 0)]), "lz4")
    assert not out.any()
