"""Everyday deeplake-3 code runs unchanged on shoal: every snippet of the corpus
(idioms.py) gives the same result with ``deeplake`` 3.9.52 and with shoal imported under
that name."""

from __future__ import annotations

import json
import runpy
from typing import Any

import numpy as np
import pytest
from tests.interop.idioms import CORPUS

import shoal
from shoal import _native

DRIVER = """
import json, runpy, sys
out = {}
for i in range(0, len(argv) - 1, 2):
    snippet, work = argv[i], argv[i + 1]
    try:
        g = runpy.run_path(snippet, init_globals={"deeplake": deeplake, "np": np,
                                                   "argv": [work, argv[-1]]})
        out[snippet] = json.loads(json.dumps(g["result"]))
    except Exception as exc:  # reported, so that the test says what deeplake raised
        out[snippet] = {"deeplake raised": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def results(run_dl: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("idioms")
    img = np.zeros((7, 5, 3), np.uint8)
    img[2:5, 1:4] = [10, 200, 30]
    png = tmp / "pic.png"
    png.write_bytes(_native.png_encode(img))
    args: list[Any] = []
    for name, code in CORPUS.items():
        path = tmp / f"{name}.py"
        path.write_text(code)
        args += [path, tmp / "dl" / name]
    driver = tmp / "driver.py"
    driver.write_text(DRIVER)
    proc = run_dl("exec", driver, *args, png)
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    out: dict[str, Any] = {}
    for name in CORPUS:
        snippet = tmp / f"{name}.py"
        g = runpy.run_path(
            str(snippet),
            init_globals={
                "deeplake": shoal,
                "np": np,
                "argv": [str(tmp / "shoal" / name), str(png)],
            },
        )
        out[name] = (json.loads(json.dumps(g["result"])), theirs[str(snippet)])
    return out


@pytest.mark.parametrize("name", list(CORPUS))
def test_snippet_gives_what_deeplake_gives(results: dict[str, Any], name: str) -> None:
    ours, theirs = results[name]
    assert "deeplake raised" not in theirs, theirs  # the snippet itself is wrong
    assert ours == theirs
