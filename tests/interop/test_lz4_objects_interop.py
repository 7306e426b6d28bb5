"""Text, json and list tensors compressed with lz4, per sample or per chunk, as deeplake's
VectorStore creates them: each library writes, the other appends, updates and reads, and
both read the same values. Per sample, each serialised value is one lz4 block (an empty one
is stored as nothing), as deeplake writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.interop import snippets

import shoal

pytestmark = pytest.mark.interop

SNIPPET = r"""
path, mode, step = argv[0], argv[1], int(argv[2])
SPEC = {
    "txt_s": {"htype": "text", "sample_compression": "lz4"},
    "txt_c": {"htype": "text", "chunk_compression": "lz4"},
    "js_s": {"htype": "json", "sample_compression": "lz4"},
    "js_c": {"htype": "json", "chunk_compression": "lz4"},
    "lst_s": {"htype": "list", "sample_compression": "lz4"},
}
if mode == "create":
    ds = deeplake.empty(path, overwrite=True)
    for name, kwargs in SPEC.items():
        ds.create_tensor(name, **kwargs)
else:
    ds = deeplake.load(path)
with ds:
    ds.extend({
        "txt_s": ["word " * (20 * step), "", f"step {step}"],
        "txt_c": [f"chunk {step} " * 30, "x", ""],
        "js_s": [{"step": step, "xs": list(range(30))}, None, {}],
        "js_c": [{"k": "v" * 50}, [1, 2], "s"],
        "lst_s": [["a"] * step, [], list(range(25))],
    })
    ds.txt_s[0] = f"updated by step {step}"
    ds.js_s[1] = {"updated": step}
print(json.dumps(summary(ds)))
"""


@pytest.mark.parametrize("first", ["shoal", "deeplake"])
def test_each_writes_the_other_continues_and_both_read_the_same(
    first: str, tmp_path: Path, run_dl: Any
) -> None:
    script = snippets.write(tmp_path, "lz4_objects", SNIPPET)
    path = tmp_path / "ds"

    def run(who: str, *args: Any) -> Any:
        if who == "shoal":
            return snippets.with_shoal(script, path, *args)
        return snippets.with_deeplake(run_dl, script, path, *args)

    second = "deeplake" if first == "shoal" else "shoal"
    run(first, "create", 1)
    theirs = run(second, "open", 2)
    ours = run(first, "open", 3)
    for name, values in theirs.items():  # the third run appended 3 and updated 0 and 1
        assert ours[name][2:6] == values[2:6], name
        assert len(ours[name]) == len(values) + 3 == 9, name
    assert ours["txt_s"][0] == "updated by step 3" and ours["txt_s"][1:3] == ["", "step 1"]
    assert ours["js_s"][1] == {"updated": 3} and ours["lst_s"][2] == list(range(25))
    assert len(ours["js_c"]) == 9 and ours["js_c"][7] == [1, 2]
    shoal.load(str(path), read_only=True).close()
