"""Updates and pops of sequence tensors are crash-safe like other edits: a writer killed just
before or just after any one of its storage writes leaves a dataset that shoal reads as it was
before the edit or as it is after it (sequence index, items, companions together), and so
does deeplake 3.9.52 once shoal has opened it. The writer is forked and killed as in
tests/test_edit_crash.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from tests.interop import conftest as _interop
from tests.interop.snippets import PRELUDE
from tests.test_edit_crash import kill_everywhere

deeplake_python = _interop.deeplake_python
deeplake_env = _interop.deeplake_env
run_dl = _interop.run_dl


def make_base(path: Path) -> None:
    ds = shoal.empty(str(path))
    ds.create_tensor("g", htype="sequence[generic]", dtype="int64", max_chunk_size=200)
    ds.create_tensor("f", htype="sequence[image]", sample_compression="png")
    with ds:
        for i in range(30):
            n = i % 4
            ds.g.append([np.full(3, 10 * i + j, np.int64) for j in range(n)])
            ds.f.append([np.full((4, 4, 3), (i + j) % 250, np.uint8) for j in range(n + 1)])
    ds.close()


def update(ds: shoal.Dataset) -> None:
    with ds:
        ds.g[[3, 27]] = [[np.full(3, -1)] * 3, [np.full(5, -2)] * 3]
        ds.f[5][1] = np.zeros((6, 6, 3), np.uint8)


def pop(ds: shoal.Dataset) -> None:
    ds.pop([1, 14, 15, 29])


def summary(ds: shoal.Dataset) -> dict[str, Any]:
    return {
        "g": [[a.tolist() for a in ds.g[i].numpy(aslist=True)] for i in range(len(ds.g))],
        "f": [[a.tolist() for a in ds.f[i].numpy(aslist=True)] for i in range(len(ds.f))],
    }


DL_SUMMARIES = """
out = {}
for p in argv:
    try:
        ds = deeplake.load(p, read_only=True)
        out[p] = {n: [[a.tolist() for a in ds[n][i].numpy(aslist=True)] for i in range(len(ds[n]))]
                  for n in ("g", "f")}
    except Exception as e:
        out[p] = {"error": repr(e)}
print(json.dumps(out))
"""


@pytest.mark.parametrize("edit", [update, pop], ids=["update", "pop"])
def test_kill_at_every_write_of_a_sequence_edit(
    tmp_path: Path, run_dl: Any, edit: Callable[[shoal.Dataset], None]
) -> None:
    checked = [
        (c.path, c.want)
        for c in kill_everywhere(tmp_path, make_base, edit, summary).around_commit()
    ]
    script = tmp_path / "dl.py"
    script.write_text(PRELUDE + DL_SUMMARIES)
    proc = run_dl("exec", script, *[p for p, _ in checked])
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    for path, want in checked:
        assert seen[str(path)] == want, path
