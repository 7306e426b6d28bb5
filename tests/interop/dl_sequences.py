"""The deeplake side of the sequence-tensor interop tests (runs ONLY under the deeplake venv).

python dl_sequences.py write PATH FILES_JSON   # the tensors of ``CONTENT`` (see below)
python dl_sequences.py read PATH OUT_JSON      # every sample's items, as plain JSON
python dl_sequences.py append PATH FILES_JSON  # one more sample in each tensor, then a commit
python dl_sequences.py edit PATH FILES_JSON    # sequence_edit_steps.edit
python dl_sequences.py edit_more PATH FILES_JSON  # sequence_edit_steps.edit_more
python dl_sequences.py branch_updates|merge PATH FILES_JSON  # sequence_edit_steps.<command>

The content (the shoal side builds the same, see test_sequence_interop.py):
  frames  sequence[image] jpeg     samples of 3 and 2 frames (8, 6, 3), seeded
  labels  sequence[class_label]    ["a", "b"], ["b", "c", "a"]
  g       sequence[generic] int64  arange(6) as 3 items of 2, [arange(2), arange(3)], []
  txt     sequence[text]           ["hi", "there"], ["x"]
  lk      sequence[link[image]]    png files 0, 1, 2 then file 0 alone
  sm      sequence[generic] int64  one item a chunk (sequence_edit_steps.SMALL)
"""

from __future__ import annotations

import json
import sys

import sequence_edit_steps as steps
from dl_offline import deeplake, np

NAMES = ("frames", "labels", "g", "txt", "lk", "sm")


def frames(seed: int, n: int) -> list:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (8, 6, 3), dtype=np.uint8) for _ in range(n)]


def write(path: str, files: list[str]) -> None:
    ds = deeplake.empty(path, overwrite=True)
    ds.create_tensor("frames", htype="sequence[image]", sample_compression="jpeg")
    ds.create_tensor("labels", htype="sequence[class_label]")
    ds.create_tensor("g", htype="sequence[generic]", dtype="int64")
    ds.create_tensor("txt", htype="sequence[text]")
    ds.create_tensor("lk", htype="sequence[link[image]]", sample_compression="png")
    ds.frames.append(frames(1, 3))
    ds.frames.append(frames(2, 2))
    ds.labels.extend([["a", "b"], ["b", "c", "a"]])
    ds.g.extend([np.arange(6).reshape(3, 2), [np.arange(2), np.arange(3)]])
    ds.g.append([])
    ds.txt.extend([["hi", "there"], ["x"]])
    ds.lk.append([deeplake.link(f) for f in files])
    ds.lk.append([deeplake.link(files[0])])
    steps.create_small(ds)
    ds.commit("sequences")


def append(path: str, files: list[str]) -> None:
    ds = deeplake.load(path)
    ds.frames.append(frames(3, 1))
    ds.labels.append(["c"])
    ds.g.append([np.array([7, 8, 9, 10])])
    ds.txt.append(["z", "y", "w"])
    ds.lk.append([deeplake.link(files[1]), deeplake.link(files[2])])
    ds.commit("more")


def _item(x: object) -> object:
    return np.asarray(x).tolist()


def _shape(t: object) -> object:
    try:
        return list(t.shape)  # type: ignore[attr-defined]
    except IndexError:  # deeplake's shape of a sequence tensor holding an empty sample
        return "error"


def read(path: str, out: str) -> None:
    ds = deeplake.load(path, read_only=True)
    got: dict[str, object] = {}
    for name in NAMES:
        t = ds[name]
        samples = [[_item(x) for x in t[i].numpy(aslist=True)] for i in range(len(t))]
        got[name] = {
            "htype": t.htype,
            "len": len(t),
            "shape": _shape(t),
            "samples": samples,
            "item": _item(t[0][1].numpy()) if samples and len(samples[0]) > 1 else None,
        }
    got["class_names"] = list(ds.labels.info.class_names)
    with open(out, "w") as f:
        json.dump(got, f)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2], json.loads(sys.argv[3]))
    elif cmd == "append":
        append(sys.argv[2], json.loads(sys.argv[3]))
    elif cmd in ("edit", "edit_more", "branch_updates", "merge"):
        ds = deeplake.load(sys.argv[2])
        getattr(steps, cmd)(ds, deeplake.link, json.loads(sys.argv[3]))
    elif cmd == "read":
        read(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown command {cmd}")
