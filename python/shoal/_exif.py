"""EXIF tags of a JPEG or PNG file, as deeplake records them in a sample's info.

deeplake stores ``{"exif": {...}, ...}`` for every image read from a file (``_<t>_info``). Its
``exif`` is the file's first image directory (IFD0) as Pillow reads it, with each value turned
into JSON by deeplake's own rules: numbers (and rationals) become floats (resolutions ints),
text stays text, short byte strings their ``repr``, longer ones ``"<bytes>"``, anything else
``str``. Tags are named as Pillow names them, unknown ones by their number.

This parser reads the bytes itself (Pillow, when installed, only lends its tag names). The
bytes come from files
users point at, so nothing here trusts them: every offset is bounds-checked, loops are bounded,
and a damaged block gives ``{}`` (what deeplake records when Pillow cannot read it) rather than
an error.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

_EXIF_HEADER = b"Exif\x00\x00"
_MAX_ENTRIES = 1024  # an IFD declaring more is damaged

# TIFF field types: (struct code, size in bytes)
_TYPES: dict[int, tuple[str, int]] = {
    1: ("B", 1),  # BYTE
    2: ("s", 1),  # ASCII
    3: ("H", 2),  # SHORT
    4: ("L", 4),  # LONG
    5: ("L", 8),  # RATIONAL: two LONGs
    6: ("b", 1),  # SBYTE
    7: ("s", 1),  # UNDEFINED
    8: ("h", 2),  # SSHORT
    9: ("l", 4),  # SLONG
    10: ("l", 8),  # SRATIONAL: two SLONGs
    11: ("f", 4),  # FLOAT
    12: ("d", 8),  # DOUBLE
    13: ("L", 4),  # IFD
    16: ("Q", 8),  # LONG8
}
_BYTES_TYPES = (1, 7)

# Tags that hold one value (TIFF 6.0, EXIF, MPF): extra values written for one are dropped, as
# Pillow drops them.
_SINGLE = frozenset(
    {254, 255, 256, 257, 259, 262, 263, 264, 265, 266, 269, 270, 271, 272, 274, 277, 278, 282}
    | {283, 284, 285, 286, 287, 288, 289, 290, 292, 293, 296, 305, 306, 315, 316, 317, 322}
    | {323, 332, 333, 334, 337, 347, 512, 513, 514, 515, 531, 33432, 33723, 34665, 34675}
    | {34853, 36864, 37724, 40960, 40965, 41730, 45056, 45057, 45058, 45060, 45313, 45569}
    | set(range(45570, 45582))
    | {50741, 50780, 50839}
)

# Tags deeplake looks up in a table of names (by their numbers: a number always takes the
# numeric path first, so only the table's size matters): a value that is not a number makes
# the lookup fail, and deeplake then records no EXIF at all for the image.
_LOOKUP_SIZES = {"MeteringMode": 7, "ExposureProgram": 10, "ResolutionUnit": 4, "Orientation": 9}


class _Unrecordable(Exception):
    """A value deeplake's conversion fails on: the image's EXIF is recorded as ``{}``."""


# Names of the tags an image directory commonly holds (TIFF 6.0 and EXIF 2.3 names, spelled as
# Pillow spells them). deeplake names tags by Pillow's table, so where Pillow is installed its
# table is used (:func:`tag_names`); any tag neither knows is recorded under its number.
TAG_NAMES: dict[int, str] = {
    0x00FE: "NewSubfileType",
    0x00FF: "SubfileType",
    0x0100: "ImageWidth",
    0x0101: "ImageLength",
    0x0102: "BitsPerSample",
    0x0103: "Compression",
    0x0106: "PhotometricInterpretation",
    0x010A: "FillOrder",
    0x010D: "DocumentName",
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0111: "StripOffsets",
    0x0112: "Orientation",
    0x0115: "SamplesPerPixel",
    0x0116: "RowsPerStrip",
    0x0117: "StripByteCounts",
    0x011A: "XResolution",
    0x011B: "YResolution",
    0x011C: "PlanarConfiguration",
    0x011D: "PageName",
    0x0128: "ResolutionUnit",
    0x0129: "PageNumber",
    0x012D: "TransferFunction",
    0x0131: "Software",
    0x0132: "DateTime",
    0x013B: "Artist",
    0x013C: "HostComputer",
    0x013D: "Predictor",
    0x013E: "WhitePoint",
    0x013F: "PrimaryChromaticities",
    0x0140: "ColorMap",
    0x0142: "TileWidth",
    0x0143: "TileLength",
    0x0144: "TileOffsets",
    0x0145: "TileByteCounts",
    0x0152: "ExtraSamples",
    0x0153: "SampleFormat",
    0x0201: "JpegIFOffset",
    0x0202: "JpegIFByteCount",
    0x0211: "YCbCrCoefficients",
    0x0212: "YCbCrSubSampling",
    0x0213: "YCbCrPositioning",
    0x0214: "ReferenceBlackWhite",
    0x02BC: "XMLPacket",
    0x4746: "Rating",
    0x4749: "RatingPercent",
    0x8298: "Copyright",
    0x8769: "ExifOffset",
    0x8825: "GPSInfo",
    0x829A: "ExposureTime",
    0x829D: "FNumber",
    0x8822: "ExposureProgram",
    0x8827: "ISOSpeedRatings",
    0x9000: "ExifVersion",
    0x9003: "DateTimeOriginal",
    0x9004: "DateTimeDigitized",
    0x9201: "ShutterSpeedValue",
    0x9202: "ApertureValue",
    0x9204: "ExposureBiasValue",
    0x9207: "MeteringMode",
    0x9209: "Flash",
    0x920A: "FocalLength",
    0x927C: "MakerNote",
    0x9286: "UserComment",
    0x9C9B: "XPTitle",
    0x9C9C: "XPComment",
    0x9C9D: "XPAuthor",
    0x9C9E: "XPKeywords",
    0x9C9F: "XPSubject",
    0xA001: "ColorSpace",
    0xA002: "ExifImageWidth",
    0xA003: "ExifImageHeight",
    0xA005: "ExifInteroperabilityOffset",
    0xA402: "ExposureMode",
    0xA403: "WhiteBalance",
    0xA406: "SceneCaptureType",
    0xA430: "CameraOwnerName",
    0xA431: "BodySerialNumber",
    0xA432: "LensSpecification",
    0xA433: "LensMake",
    0xA434: "LensModel",
    0xC4A5: "PrintImageMatching",
}


@functools.cache
def tag_names() -> dict[int, str]:
    """Pillow's names of EXIF tags where Pillow is installed, else :data:`TAG_NAMES`."""
    try:
        from PIL import ExifTags
    except ImportError:
        return TAG_NAMES
    return {**TAG_NAMES, **{int(k): str(v) for k, v in ExifTags.TAGS.items()}}


class _Rational:
    """A TIFF rational as deeplake sees it: a value with a numerator and a denominator."""

    __slots__ = ("denominator", "numerator")

    def __init__(self, numerator: int, denominator: int) -> None:
        self.numerator = numerator
        self.denominator = denominator


def image_exif(data: bytes | memoryview, compression: str | None) -> dict[str, Any]:
    """The EXIF info deeplake records for an image file's bytes (``{}`` when there is none)."""
    if compression == "jpeg":
        tiff = _jpeg_exif(bytes(data))
    elif compression == "png":
        tiff = _png_exif(bytes(data))
    elif compression == "tiff":
        tiff = bytes(data)  # Pillow's getexif of a TIFF is the file's first directory
    elif compression == "webp":
        tiff = _webp_exif(bytes(data))
    else:
        return {}
    if not tiff:
        return {}
    try:
        return _ifd0(tiff)
    except (struct.error, _Unrecordable):
        return {}


def _webp_exif(data: bytes) -> bytes | None:
    """The TIFF block of a WebP's ``EXIF`` chunk (RIFF chunks: fourcc, size, padded data)."""
    pos = 12
    while pos + 8 <= len(data):
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if fourcc == b"EXIF":
            block = data[pos + 8 : pos + 8 + size]
            return block[6:] if block.startswith(b"Exif\x00\x00") else block
        pos += 8 + size + (size & 1)
    return None


def _jpeg_exif(data: bytes) -> bytes | None:
    """The TIFF block of a JPEG's first ``Exif`` APP1 segment."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and body.startswith(_EXIF_HEADER):
            return body[len(_EXIF_HEADER) :]
        pos += 2 + length
    return None


def _png_exif(data: bytes) -> bytes | None:
    """The TIFF block of a PNG's ``eXIf`` chunk."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"eXIf":
            return body[len(_EXIF_HEADER) :] if body.startswith(_EXIF_HEADER) else body
        if kind in (b"IDAT", b"IEND"):
            return None  # deeplake's reader only sees an eXIf before the image data
        pos += 12 + length
    return None


def _ifd0(tiff: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # In file order: deeplake's follows how Pillow happened to touch the tags (a set's order),
    # so the same tags and values can be recorded in another order there.
    for tag, value in raw_tags(tiff).items():
        name = tag_names().get(tag, str(tag))
        converted = _json_value(name, value)
        if converted is not None:
            out[name] = converted
    return out


def raw_tags(tiff: bytes) -> dict[int, Any]:
    """The tags of a TIFF block's first directory, by number, in file order: text as str,
    BYTE and UNDEFINED fields as bytes, numbers as ints or floats, rationals as objects with
    ``numerator`` and ``denominator``; several values as a tuple. A value past the end of the
    block ends the directory there (the tags before it stand). Raises ``struct.error`` on a block too short to hold a directory."""
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        return {}
    (offset,) = struct.unpack_from(order + "L", tiff, 4)
    (count,) = struct.unpack_from(order + "H", tiff, offset)
    out: dict[int, Any] = {}
    for i in range(min(count, _MAX_ENTRIES)):
        at = offset + 2 + 12 * i
        if at + 12 > len(tiff):
            break  # a directory cut short: the tags read so far stand (as in Pillow)
        tag, kind, n, field = struct.unpack_from(order + "HHL4s", tiff, at)
        if kind not in _TYPES or n == 0:
            continue
        code, size = _TYPES[kind]
        total = size * n
        if total <= 4:
            raw = field[:total]
        else:
            (where,) = struct.unpack(order + "L", field)
            raw = tiff[where : where + total]
            if len(raw) < total:
                break  # a value past the block ends the directory there, as in Pillow
        out[tag] = _value(order, kind, code, n, raw, tag)
    return out


def _value(order: str, kind: int, code: str, n: int, raw: bytes, tag: int) -> Any:
    if kind in _BYTES_TYPES:
        return raw
    if kind == 2:
        text = raw[:-1] if raw.endswith(b"\x00") else raw
        return text.decode("latin-1", "replace")
    if kind in (5, 10):
        pairs = struct.unpack(f"{order}{2 * n}{code}", raw)
        values: tuple[Any, ...] = tuple(
            _Rational(pairs[j], pairs[j + 1]) for j in range(0, len(pairs), 2)
        )
    else:
        values = struct.unpack(f"{order}{n}{code}", raw)
    if n == 1 or (tag in _SINGLE and values):
        return values[0]
    return values


def _json_value(key: str, v: Any) -> Any:
    """deeplake's conversion of one EXIF value to what its JSON info holds."""
    if hasattr(v, "numerator"):  # ints and rationals alike
        v = v.numerator / v.denominator if v.denominator else 0
        if key == "ExposureTime":
            v = float(Fraction(v).limit_denominator(8000))
        elif key in ("XResolution", "YResolution"):
            v = int(v) if not (isinstance(v, float) and math.isnan(v)) else v
        return v
    size = _LOOKUP_SIZES.get(key)
    if size is not None:
        if isinstance(v, float) and not v < size:
            return v  # past the table: kept as it is
        raise _Unrecordable(key)
    if isinstance(v, bytes):
        return str(v) if len(v) < 16 else "<bytes>"
    if isinstance(v, (list, tuple)):
        return type(v)(_json_value("_", x) for x in v)
    return str(v)


def file_info(
    data: bytes | memoryview, compression: str | None, shape: Sequence[int], filename: str
) -> dict[str, Any]:
    """The record of an image file appended (or linked) as one sample."""
    info: dict[str, Any] = {}
    if compression in ("png", "jpeg", "tiff", "webp", "bmp"):
        info["exif"] = image_exif(data, compression)
    info["shape"] = [int(d) for d in shape]
    info["format"] = compression
    info["filename"] = filename
    info["modified"] = False
    return info
