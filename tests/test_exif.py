"""The EXIF reader behind ``sample_info``: damaged blocks read without an error, tag names and
single-valued tags as Pillow has them, and values converted as deeplake records them. (Random
directories compared with what deeplake itself records: tests/interop/test_sample_info_interop.py.)"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ExifTags, TiffTags

from shoal._exif import _SINGLE, TAG_NAMES, image_exif
from tests.exif_blocks import jpeg_with, tiff


@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=200), cut=st.integers(0, 400), order=st.sampled_from("<>"))
def test_damaged_blocks_give_a_dict(junk: bytes, cut: int, order: str):
    whole = tiff(order, [(0x010F, 2, b"Canon\x00"), (0x011A, 5, [300, 1]), (0x9C9B, 7, junk)])
    for block in (junk, whole[:cut], whole[:8] + junk, b"II*\x00" + junk):
        for data in (jpeg_with(block), b"\x89PNG\r\n\x1a\n" + junk, b"\xff\xd8\xff" + junk):
            for comp in ("jpeg", "png"):
                assert isinstance(image_exif(data, comp), dict)


def test_names_are_pillows():
    for tag, name in TAG_NAMES.items():
        assert ExifTags.TAGS.get(tag) == name, hex(tag)


@pytest.mark.parametrize("tag", sorted(_SINGLE))
def test_single_valued_tags_are_pillows(tag: int):
    assert TiffTags.lookup(tag).length == 1


def test_values_as_deeplake_records_them():
    items = [
        (0x010F, 2, b"Canon\x00"),
        (0x0112, 3, [6]),
        (0x011A, 5, [300, 1]),
        (0x011B, 5, [72, 0]),
        (0x0213, 3, [1, 2]),  # one value wanted: the first is kept
        (0x829A, 5, [1, 3]),
        (0x9000, 7, b"0230"),
        (0x9C9C, 1, list(range(20))),
        (0xABCD, 11, [1.5]),
        (0xABCE, 3, [1, 2, 3]),
    ]
    got = image_exif(jpeg_with(tiff(">", items)), "jpeg")
    assert got == {
        "Make": "Canon",
        "Orientation": 6.0,
        "XResolution": 300,
        "YResolution": 0,
        "YCbCrPositioning": 1.0,
        "ExposureTime": 0.3333333333333333,
        "ExifVersion": "b'0230'",
        "XPComment": "<bytes>",
        "43981": "1.5",
        "43982": (1.0, 2.0, 3.0),
    }
    assert image_exif(b"\xff\xd8\xff\xd9", "jpeg") == {}
    assert image_exif(b"not an image", None) == {}
