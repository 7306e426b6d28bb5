"""Running the same snippet of deeplake-3 code with deeplake 3.9.52 (in its venv) and with
shoal (here, the name ``deeplake`` bound to shoal): what each prints, as JSON, is compared.

A snippet sees ``deeplake``, ``np``, ``argv`` and ``summary(ds)`` (every visible tensor's
samples as plain lists, str or dicts) and prints one JSON document.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import runpy
from pathlib import Path
from typing import Any

import numpy as np

import shoal

PRELUDE = """
import json

def summary(ds):
    out = {}
    for name in sorted(ds.tensors):
        t = ds[name]
        if t.htype == "text":
            out[name] = list(t.text()) if len(t) else []
        elif t.htype == "json":
            out[name] = list(t.dict()) if len(t) else []
        else:
            out[name] = [a.tolist() for a in t.numpy(aslist=True)]
    return out
"""


def write(tmp: Path, name: str, code: str) -> Path:
    path = tmp / f"{name}.py"
    path.write_text(PRELUDE + code)
    return path


def with_deeplake(run_dl: Any, snippet: Path, *args: Any) -> Any:
    """What the snippet prints under deeplake, parsed (the last line of its output)."""
    proc = run_dl("exec", snippet, *args)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def with_shoal(snippet: Path, *args: Any) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(
            str(snippet),
            init_globals={"deeplake": shoal, "np": np, "argv": [str(a) for a in args]},
            run_name="__main__",
        )
    # the snippet's dataset is dropped: collected now, it gives up its write lock before
    # deeplake (the next snippet, say) opens the dataset
    gc.collect()
    return json.loads(out.getvalue().strip().splitlines()[-1])
