"""The read paths' replacement of ``np.unique`` agrees with it, and the first read of a fresh
process does not import ``numpy.ma`` (which ``np.unique`` does on its first call)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shoal._index import distinct, distinct_inverse

ints = hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-5, 40))


@given(ints)
def test_distinct_is_np_unique(values: np.ndarray) -> None:
    assert np.array_equal(distinct(values), np.unique(values))
    uniq, inverse = distinct_inverse(values)
    want, want_inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(uniq, want) and np.array_equal(inverse, want_inverse.ravel())
    assert np.array_equal(uniq[inverse], values)


def test_a_loader_epoch_does_not_import_numpy_ma(tmp_path: object) -> None:
    code = (
        "import sys, numpy as np, shoal\n"
        f"ds = shoal.empty({str(tmp_path)!r})\n"
        "ds.create_tensor('x', dtype='int32')\n"
        "ds.x.extend(np.arange(1000, dtype=np.int32).reshape(100, 10))\n"
        "ds.flush()\n"
        "before = 'numpy.ma' in sys.modules\n"
        "n = sum(len(b['x']) for b in ds.loader(batch_size=7, shuffle=True, seed=1))\n"
        "ds.x[[3, 50, 7]].numpy()\n"
        "print(before, 'numpy.ma' in sys.modules, n)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "False", "100"], out.stdout + out.stderr
