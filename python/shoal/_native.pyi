"""Private native core of shoal (Rust, built with maturin). Not a public API.

Every function is synchronous, releases the GIL for its heavy part, and raises only errors from
``shoal.errors`` (``CorruptDataError``, ``TruncatedDataError``, ``CodecError``) or ``ValueError`` /
``IndexError`` / ``TypeError`` for bad arguments. No Rust panic crosses into Python.

Buffers: every ``data``/``buf`` argument accepts any object that supports the buffer protocol
(bytes, bytearray, memoryview, a C-contiguous numpy array); nothing is copied on the way in.

Layouts are the Deep Lake v3 ones (little-endian):

* chunk: ``u8 L, version[L], i32 R_s, i32 C_s, u32 shapes[R_s][C_s], u32 R_b,
  u32 byte_positions[R_b][3], data``;
* chunk-id encoder: ``u8 L, version[L], u8 dtype_size (4|8), uint[n][2] (id, last_index)``;
* u32 encoders (sequence, creds, pad): ``u8 L, version[L], u32[n][cols]``;
* tile encoder: ``u8 L, version[L], u64 n, [u64 ndim, (u64 index, u64 sample_shape[ndim],
  u64 tile_shape[ndim])[n]]``.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer

__version__: str
build_profile: str
"""``"release"`` or ``"debug"``: benchmarks warn on a debug build."""

class ChunkHeader:
    """The parsed header of one chunk object."""

    @property
    def version(self) -> str:
        """The library version string stored in the chunk."""
    @property
    def shapes(self) -> npt.NDArray[np.uint32]:
        """Shape encoder, ``(rows, ndim + 1)``; last column is the inclusive last local index."""
    @property
    def byte_positions(self) -> npt.NDArray[np.uint32]:
        """Byte-position encoder, ``(rows, 3)``: ``num_bytes, start_byte, last_local_index``."""
    @property
    def data_offset(self) -> int:
        """Length of the header: the chunk's data starts at this offset."""
    @property
    def num_samples(self) -> int:
        """Number of samples in the chunk (from the shape encoder, else the byte positions)."""

def parse_chunk_header(buf: Buffer) -> ChunkHeader:
    """Parse the header of a chunk.

    ``buf`` may be only a prefix of the chunk. If it is too short to hold the whole header,
    raises ``TruncatedDataError`` whose ``needed`` is the header length when it can be known
    from the bytes given (else a lower bound). Any other malformation raises
    ``CorruptDataError``.
    """

def serialize_chunk(
    version: str,
    shapes: npt.NDArray[np.uint32],
    byte_positions: npt.NDArray[np.uint32],
    data: Buffer,
) -> bytes:
    """Write a chunk: header from the two encoders (2-D uint32 arrays; 0 rows allowed), then data."""

def parse_chunk_ids(buf: Buffer) -> tuple[str, npt.NDArray[np.uint64]]:
    """Parse a chunk-id encoder into ``(version, table)`` with ``table`` of shape ``(n, 2)``.

    Versions older than 2.7.6 have no dtype byte and hold uint32 values; they are widened.
    """

def serialize_chunk_ids(version: str, table: npt.NDArray[np.uint64]) -> bytes:
    """Write a chunk-id encoder with uint64 entries (dtype byte 8)."""

def parse_u32_encoder(buf: Buffer, cols: int) -> tuple[str, npt.NDArray[np.uint32]]:
    """Parse a plain uint32 encoder (sequence, creds, pad) into ``(version, table (n, cols))``."""

def serialize_u32_encoder(version: str, table: npt.NDArray[np.uint32]) -> bytes:
    """Write a plain uint32 encoder from a 2-D uint32 table."""

def parse_tile_encoder(
    buf: Buffer,
) -> tuple[str, dict[int, tuple[tuple[int, ...], tuple[int, ...]]]]:
    """Parse a tile encoder into ``(version, {sample_index: (sample_shape, tile_shape)})``."""

def serialize_tile_encoder(
    version: str, entries: Mapping[int, tuple[Sequence[int], Sequence[int]]]
) -> bytes:
    """Write a tile encoder (entries sorted by sample index)."""

def locate_samples(
    last_index: npt.NDArray[np.uint64], indices: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Map global sample indices to ``(row, local_index)`` through a chunk-id encoder.

    ``last_index`` is the encoder's second column (non-decreasing; tiles repeat a value). The
    row is the first row whose last index is >= the sample index; the local index counts from
    the previous row's last index + 1. Raises ``IndexError`` naming the first index past the
    end.
    """

def sample_shapes(
    shapes: npt.NDArray[np.uint32], local: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Shapes ``(n, ndim)`` of the given local sample indices from a chunk's shape encoder."""

def sample_ranges(
    byte_positions: npt.NDArray[np.uint32], local: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Byte ranges ``(n, 2)`` (start, end), relative to the chunk data, of local samples."""

def lz4_compress(data: Buffer) -> bytes:
    """LZ4 block with a 4-byte little-endian size prefix (``lz4.block.compress`` default)."""

def lz4_decompress(data: Buffer) -> bytes:
    """Inverse of :func:`lz4_compress`; also accepts the LZ4 frame format and the 5-zero-byte
    empty value. Raises ``CodecError`` on malformed input."""

def png_encode(array: npt.NDArray[np.uint8] | npt.NDArray[np.uint16]) -> bytes:
    """Encode ``(H, W)`` or ``(H, W, C)`` (C in 1..4) uint8 or uint16 pixels as PNG."""

def png_decode(data: Buffer) -> npt.NDArray[np.uint8] | npt.NDArray[np.uint16]:
    """Decode a PNG to ``(H, W)`` (one channel) or ``(H, W, C)``; no palette expansion."""

def jpeg_encode(array: npt.NDArray[np.uint8], quality: int = 75) -> bytes:
    """Encode ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` uint8 pixels as baseline JPEG, 4:2:0."""

def jpeg_decode(data: Buffer) -> npt.NDArray[np.uint8]:
    """Decode a JPEG to ``(H, W)`` (grayscale) or ``(H, W, 3)`` RGB, bit-identical to
    libjpeg-turbo with default settings (as Pillow decodes)."""

def bmp_encode(array: npt.NDArray[np.uint8]) -> bytes:
    """Encode ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` uint8 pixels as Pillow saves a BMP
    (8-bit grey palette or 24-bit, bottom-up)."""

def bmp_decode(data: Buffer) -> npt.NDArray[np.uint8]:
    """Decode an uncompressed BMP as Pillow does: palette indices ``(H, W)``, RGB
    ``(H, W, 3)``, or RGBA ``(H, W, 4)`` for 32-bit bit fields with alpha."""

def tiff_encode(array: npt.NDArray[np.uint8] | npt.NDArray[np.uint16]) -> bytes:
    """Encode uint8 ``(H, W)``/``(H, W, 1|3|4)`` or uint16 grey pixels as an uncompressed TIFF."""

def tiff_decode(data: Buffer) -> npt.NDArray[np.uint8] | npt.NDArray[np.uint16]:
    """Decode a TIFF's first image to ``(H, W)`` (grey) or ``(H, W, C)``."""

def webp_encode(array: npt.NDArray[np.uint8]) -> bytes:
    """Encode ``(H, W, 3)`` or ``(H, W, 4)`` uint8 pixels as a lossless WebP."""

def webp_decode(data: Buffer) -> npt.NDArray[np.uint8]:
    """Decode a still WebP (lossy or lossless) to RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)``."""

def probe_image(data: Buffer) -> tuple[str, tuple[int, ...], str]:
    """Read only an image's header: ``(format, shape, dtype)``, e.g. ``("png", (H, W, 3),
    "uint8")``; the format is found from the magic bytes (png, jpeg, bmp, tiff, webp). Shapes
    follow the format's ``*_decode``."""

def assemble(
    out: npt.NDArray[np.generic],
    sources: Sequence[Buffer],
    plan: npt.NDArray[np.int64],
    codec: str = "none",
    threads: int = 1,
) -> None:
    """Fill ``out`` (C-contiguous, writable) from byte ranges of ``sources`` in one pass.

    ``plan`` has shape ``(n, 5)``: ``source_index, start, end, dst_offset, dst_nbytes`` (byte
    offsets into the source buffer and into ``out``). ``codec`` says what each range holds:
    ``"none"`` (raw bytes, copied; requires ``end - start == dst_nbytes``), ``"lz4"`` (one
    lz4-compressed sample), ``"png"``, ``"jpeg"``, ``"bmp"``, ``"tiff"`` or ``"webp"`` (one
    encoded image whose decoded size must be ``dst_nbytes``). Destination ranges must not
    overlap and must lie inside ``out``.
    ``threads`` > 1 splits the work across that many threads.
    """
