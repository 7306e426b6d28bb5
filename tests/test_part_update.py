"""Updating part of samples (``t[i, a:b] = x``, ``t[i][sub] = x``): the sample is read, the
part assigned and the sample written back as an ordinary update, as deeplake does; for raw,
compressed and tiled samples. Bad values and sub-indexes change nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import shoal
from shoal import errors
from tests.test_editing import _ds, values


def test_parts_of_every_array_htype(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    want = values(ds)
    ds.x[3, 2:4] = np.array([100, 101])
    want["x"][3][2:4] = [100, 101]
    ds.x[0:2, 0] = [7, 8]  # one value per selected sample
    want["x"][0][0], want["x"][1][0] = 7, 8
    ds.x[5][::3] = -1  # a one-sample view indexes into the sample
    want["x"][5][::3] = [-1] * 4
    ds[6].x[[1, 2]] = [0, 0]
    want["x"][6][1:3] = [0, 0]
    ds.img[2, 1:3, :, 0] = 200  # a png sample: decoded, assigned, encoded again
    for r in (1, 2):
        for c in range(5):
            want["img"][2][r][c][0] = 200
    ds.raw[4, 0] = np.array([9, 9, 9], np.uint8)  # aligned on the first axes, as deeplake does it
    want["raw"][4][0] = [[9, 9, 9]] * 3
    ds.box[7, 1, 2] = 0.5
    want["box"][7][1][2] = 0.5
    ds.big[8, 10:30, 5] = 77  # a tiled sample stays tiled
    for r in range(10, 30):
        want["big"][8][r][5] = 77
    assert values(ds) == want
    assert values(shoal.load(ds.path)) == want
    diff = ds.diff(as_dict=True)["tensor"][0]
    assert sorted(diff["x"]["data_updated"]) == []  # all added in this commit
    ds.commit("parts")
    ds.x[9, 0] = 1
    assert sorted(ds.diff(as_dict=True)["tensor"][0]["x"]["data_updated"]) == [9]


def test_parts_inside_a_batch_see_unwritten_samples(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    with ds:
        ds.x.append(np.zeros(10, np.int64))
        ds.x[40, 4] = 4
        ds.x[40, 5:7] = 5
        assert ds.x[40].numpy().tolist() == [0, 0, 0, 0, 4, 5, 5, 0, 0, 0]
    assert shoal.load(ds.path).x[40].numpy().tolist() == [0, 0, 0, 0, 4, 5, 5, 0, 0, 0]


def test_bad_parts_change_nothing(tmp_path: Path) -> None:
    ds = _ds(tmp_path)
    before = values(ds)
    with pytest.raises(errors.SampleError, match="does not fit the part"):
        ds.x[0, 2:4] = np.zeros(3, np.int64)
    with pytest.raises(errors.SampleError, match="lose information"):
        ds.x[0, 2:4] = np.array([1.5, 2.5])
    with pytest.raises(errors.SampleError, match="do not fit uint8"):
        ds.img[0, 0, 0, 0] = 300
    with pytest.raises(errors.SampleIndexError, match="outside sample 1"):
        ds.x[1, 30] = 1
    with pytest.raises(errors.SampleIndexError, match="not an index"):
        ds.x[1, "a"] = 1
    with pytest.raises(errors.SampleError, match="no parts"):
        ds.t[0, 1:2] = "x"
    with pytest.raises(errors.SampleError, match="2 values"):
        ds.x[0:2, 0] = [1, 2, 3]
    with pytest.raises(IndexError):
        ds.x[99, 0] = 1
    with pytest.raises(errors.SampleError, match="does not fit the part"):
        ds.x[0:2, 0:2] = [np.zeros(2, np.int64), np.zeros(3, np.int64)]  # all or nothing
    assert values(ds) == before
    assert values(shoal.load(ds.path)) == before
