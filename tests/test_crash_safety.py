"""A flush is atomic: a process killed at any point of it leaves a dataset that shoal and
deeplake 3.9.52 open, holding the samples of the last completed flush or of the killed one,
whole.

The writer (tests/crash_writer.py) runs in a child process and dies with ``os._exit(9)`` just
before or just after its N-th storage write, for every N of one append flush; the test then
opens each result read-only (nothing written: the journal is served), for writing (recovery),
appends to it, and has deeplake load it, before and after shoal's recovery.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shoal
from shoal import _loop, errors, routing
from shoal.engine import journal
from shoal.storage import LocalStorage, Storage
from tests.crash_writer import BLOCK, append, image
from tests.interop import conftest as _interop
from tests.servers.s3_fixtures import *  # noqa: F403
from tests.servers.s3_fixtures import S3Server

# deeplake 3.9.52 runs in its own venv, driven through tests/interop/dl_side.py.
deeplake_python = _interop.deeplake_python
deeplake_env = _interop.deeplake_env
run_dl = _interop.run_dl

REPO = Path(__file__).resolve().parent.parent
BASE = 2 * BLOCK  # samples stored by the last completed flush
EXPECTED_IMAGES: list[np.ndarray] = []  # image(i) at i, computed once
TENSORS = {"x", "images", "_x_id", "_x_shape", "_images_id", "_images_shape"}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(shoal.__file__).parent.parent), str(REPO)])
    return env


def run_writer(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.crash_writer"],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        timeout=60 + 10 * len(jobs),  # jobs run one after another
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    return results


def make_base(url: str, creds: Any = None) -> None:
    ds = shoal.empty(url, creds=creds)
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("images", dtype="uint8")
    append(ds, 0, BLOCK)
    append(ds, BLOCK, BLOCK)
    ds.close()  # the writers that follow are other processes: give up the write lock


def lengths(ds: shoal.Dataset) -> dict[str, int]:
    """Every tensor's length, hidden ones too."""
    engine = ds._engine
    _loop.run(engine.load(list(engine.meta["tensors"])))
    return {k: engine.loaded(k).length for k in engine.meta["tensors"]}


def check_samples(ds: shoal.Dataset, allowed: Sequence[int]) -> int:
    """Every tensor (hidden ones too) holds the same whole prefix of samples; its length."""
    found = lengths(ds)
    assert set(found) == TENSORS
    n = found["x"]
    assert n in allowed, f"{n} samples, expected one of {list(allowed)}"
    assert set(found.values()) == {n}, found
    assert ds.x.numpy().ravel().tolist() == list(range(n))
    if n > len(EXPECTED_IMAGES):
        EXPECTED_IMAGES[:] = [image(i) for i in range(n + 1000)]
    assert np.array_equal(ds.images.numpy(), np.stack(EXPECTED_IMAGES[:n]))  # fast on success
    return n


def journal_stored(storage: Storage) -> bool:
    return _loop.run(storage.exists(journal.KEY))


def verify(url: str, creds: Any, allowed: Sequence[int]) -> tuple[int, bool]:
    """Open read-only, then for writing, append a block, read it all back. Returns the
    samples found and whether a journal was there before."""
    reader = shoal.load(url, read_only=True, creds=creds)
    inner = reader._engine.storage
    pending = journal_stored(getattr(inner, "inner", inner))
    n_read = check_samples(reader, allowed)
    ds = shoal.load(url, creds=creds)
    assert lengths(ds) == dict.fromkeys(TENSORS, n_read)  # what the reader saw: recovered
    assert not journal_stored(ds._engine.storage)
    append(ds, n_read, BLOCK)
    assert check_samples(shoal.load(url, read_only=True, creds=creds), [n_read + BLOCK])
    return n_read, pending


def deeplake_lengths(run_dl: Any, tmp: Path, paths: list[Path]) -> dict[str, Any]:
    out = tmp / f"dl-{uuid.uuid4().hex[:6]}.json"
    run_dl("lengths", out, *paths)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def check_deeplake_view(seen: dict[str, Any], allowed: Sequence[int]) -> None:
    assert seen["ok"], seen.get("error")
    n = seen["len"]
    assert n in allowed, f"deeplake sees {n} samples, expected one of {list(allowed)}"
    assert seen["tensors"] == dict.fromkeys(TENSORS, n)
    assert seen["x"] == list(range(n))
    assert seen["images"] == [[int(image(i)[0, 0, 0]), int(image(i)[1, 1, 1])] for i in range(n)]


@dataclass
class Backend:
    """Where the datasets of one sweep live, and how to copy one."""

    url: Callable[[str], str]
    copy: Callable[[str, list[str]], None]  # base name -> new names
    to_local: Callable[[str, Path], None]  # name -> a local directory deeplake can load
    creds: Any = None


def sweep(backend: Backend, tmp: Path, run_dl: Any, points: Callable[[int, int], Any]) -> None:
    """Kill the writer at ``points(commit, writes)``: ``(when, k)`` pairs, ``commit`` being
    the index of the write that stores the journal and ``writes`` the number of writes."""
    make_base(backend.url("base"), backend.creds)
    backend.copy("base", ["count"])
    (counted,) = run_writer([job(backend, "count", None, "before")])
    assert counted["status"] == 0
    writes: list[str] = counted["writes"]
    # the write lock, then the flush: a chunk per tensor, the journal, the objects, the
    # replaced chunks, the journal
    assert writes[0] == "dataset_lock.lock", writes
    assert writes.count(journal.KEY) == 2 and len(writes) == 1 + 6 + 1 + 6 * 4 + 6 + 1, writes
    commit = writes.index(journal.KEY) + 1  # the write that commits the flush
    cases = list(points(commit, len(writes)))
    names = [f"{w}{k}" for w, k in cases]
    backend.copy("base", names)
    results = run_writer(
        [job(backend, name, k, w) for name, (w, k) in zip(names, cases, strict=True)]
    )
    raw: list[Path] = []
    for name, (when, k), result in zip(names, cases, results, strict=True):
        assert result["status"] == 9, (name, result)
        committed = k > commit or (k == commit and when == "after")
        raw.append(tmp / "raw" / name)
        backend.to_local(name, raw[-1])
        _, pending = verify(backend.url(name), backend.creds, [BASE + BLOCK * committed])
        # the journal is there from its put to its delete
        assert pending == (committed and not (k == len(writes) and when == "after")), name
    assert verify(backend.url("count"), backend.creds, [BASE + BLOCK])[1] is False
    # deeplake, on the same states: before shoal reopened them, and after (recovered, appended)
    post = [tmp / "post" / name for name in names]
    for name, path in zip(names, post, strict=True):
        backend.to_local(name, path)
    seen = deeplake_lengths(run_dl, tmp, [*raw, *post])
    refused = []
    for name, (when, k), path, path_after in zip(names, cases, raw, post, strict=True):
        committed = k > commit or (k == commit and when == "after")
        want = BASE + BLOCK * committed
        check_deeplake_view(seen[str(path_after)], [want + BLOCK])
        before = seen[str(path)]
        if not before["ok"]:
            # Only while a flush's objects are half written, i.e. with its journal stored.
            assert (path / journal.KEY).is_file(), (name, before["error"])
            refused.append(name)
            continue
        # All encoders are written before any meta, so deeplake sees no tensor half written.
        check_deeplake_view(before, [BASE, BASE + BLOCK] if committed else [BASE])
    print(f"deeplake refused {len(refused)} of {len(raw)} states before recovery: {refused}")


def job(backend: Backend, name: str, kill_at: int | None, when: str) -> dict[str, Any]:
    return {
        "url": backend.url(name),
        "creds": backend.creds,
        "start": BASE,
        "count": BLOCK,
        "kill_at": kill_at,
        "when": when,
    }


def local_backend(root: Path) -> Backend:
    def copy(base: str, names: list[str]) -> None:
        for name in names:
            shutil.copytree(root / base, root / name)

    def to_local(name: str, dest: Path) -> None:
        shutil.copytree(root / name, dest)

    return Backend(lambda name: str(root / name), copy, to_local)


def every_write(commit: int, writes: int) -> list[tuple[str, int]]:
    return [(w, k) for w in ("before", "after") for k in range(1, writes + 1)]


def test_kill_at_every_write_of_a_flush_local(tmp_path: Path, run_dl: Any) -> None:
    sweep(local_backend(tmp_path / "ds"), tmp_path, run_dl, every_write)


def s3_backend(s3_server: S3Server) -> Backend:
    """Datasets under a fresh prefix of the SeaweedFS bucket."""
    creds = s3_server.creds()
    root = f"s3://{s3_server.bucket}/crash-{uuid.uuid4().hex[:8]}"

    async def open_store(url: str) -> Storage:
        return await routing.open_storage(routing.parse(url), creds=creds)

    async def clone(src_url: str, dst_urls: list[str]) -> None:
        src = await open_store(src_url)
        listed = await src.list("")
        data = dict(zip(listed, await src.get_many(listed), strict=True))
        await src.close()
        for url in dst_urls:
            dst = await open_store(url)
            await dst.put_many({k: v for k, v in data.items() if v is not None})
            await dst.close()

    def copy(base: str, names: list[str]) -> None:
        _loop.run(clone(f"{root}/{base}", [f"{root}/{n}" for n in names]))

    def to_local(name: str, dest: Path) -> None:
        _loop.run(clone(f"{root}/{name}", [str(dest)]))

    return Backend(lambda name: f"{root}/{name}", copy, to_local, creds)


def test_kill_at_every_write_of_a_flush_s3(
    tmp_path: Path, run_dl: Any, s3_server: S3Server
) -> None:
    def landmarks(commit: int, writes: int) -> list[tuple[str, int]]:
        # A flush costs seconds against SeaweedFS here: one kill in each stretch of the flush
        # (chunks; journal; encoders; metas; garbage) instead of one at every write.
        metas = writes - 12  # the first tensor meta: 5 more, 6 obsolete chunks, the journal
        return [
            ("after", commit - 1),  # every chunk, no journal
            ("before", commit),  # the same, the chunk puts in flight when it died
            ("after", commit),  # the journal, nothing else
            ("after", commit + 9),  # half the encoders
            ("before", metas),  # every encoder, no meta
            ("after", metas + 2),  # the metas of x and its companions only
            ("after", metas + 6),  # every object, no chunk deleted
            ("after", writes - 1),  # everything but the journal's removal
        ]

    # SHOAL_CRASH_EVERY_WRITE=1: every write, as on local disk (minutes; run by hand)
    every = os.environ.get("SHOAL_CRASH_EVERY_WRITE") == "1"
    sweep(s3_backend(s3_server), tmp_path, run_dl, every_write if every else landmarks)


def kill_9_during_batches(backend: Backend, tmp_path: Path, run_dl: Any) -> None:
    """The reported failure: a process appending ``with ds:`` blocks, killed at a random
    moment with SIGKILL (no in-process cleanup of any kind). ``SHOAL_CRASH_KILLS`` kills (3
    unless told; more by hand)."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    url, creds = backend.url("ds"), backend.creds
    make_base(url, creds)
    n = BASE
    copies = []
    env = _env()
    if creds is not None:  # in the environment, not on the command line
        env["SHOAL_CRASH_CREDS"] = json.dumps(creds)
    kills = int(os.environ.get("SHOAL_CRASH_KILLS", "3"))
    for it in range(kills):
        with subprocess.Popen(
            [sys.executable, "-m", "tests.crash_writer", "loop", url],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        ) as proc:
            try:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                time.sleep(rng.uniform(0.05, 1.0))
            finally:
                proc.send_signal(signal.SIGKILL)
        copies.append(tmp_path / f"raw{it}")
        backend.to_local("ds", copies[-1])  # as the kill left it, before any recovery
        ds = shoal.load(url, creds=creds)
        found = check_samples(ds, range(n + BLOCK, 1 << 20, BLOCK))
        append(ds, found, BLOCK)
        ds.close()  # the next writer is another process: give up the write lock
        n = found + BLOCK
        assert check_samples(shoal.load(url, read_only=True, creds=creds), [n]), f"seed {seed}"
    final = tmp_path / "final"
    backend.to_local("ds", final)
    seen = deeplake_lengths(run_dl, tmp_path, [final, *copies])
    check_deeplake_view(seen[str(final)], [n])
    refused = 0
    for copy in copies:
        if seen[str(copy)]["ok"]:
            check_deeplake_view(seen[str(copy)], range(BASE, n, BLOCK))
        else:
            refused += 1
            assert (copy / journal.KEY).is_file(), seen[str(copy)]["error"]
    print(f"{kills} kills (seed {seed}): {n} samples at the end; deeplake refused {refused}")


def test_kill_9_during_batches(tmp_path: Path, run_dl: Any) -> None:
    kill_9_during_batches(local_backend(tmp_path / "datasets"), tmp_path, run_dl)


def test_kill_9_during_batches_s3(tmp_path: Path, run_dl: Any, s3_server: S3Server) -> None:
    kill_9_during_batches(s3_backend(s3_server), tmp_path, run_dl)


def test_a_put_cut_off_by_the_kill_is_recovered(tmp_path: Path) -> None:
    """Some stores (SeaweedFS) keep what arrived of a PUT cut off by a kill, often nothing:
    an object holding a beginning of its new bytes is written again, and a journal holding a
    beginning of a journal was never committed."""
    backend = local_backend(tmp_path)
    make_base(backend.url("src"))
    backend.copy("src", ["count"])
    writes = run_writer([job(backend, "count", None, "after")])[0]["writes"]
    commit, metas = writes.index(journal.KEY) + 1, len(writes) - 12
    backend.copy("src", ["meta", "journal"])
    # killed after every encoder, with the first meta's PUT cut off before its body
    (killed,) = run_writer([job(backend, "meta", metas - 1, "after")])
    assert killed["status"] == 9 and writes[metas - 1].endswith("tensor_meta.json")
    (tmp_path / "meta" / writes[metas - 1]).write_bytes(b"")
    assert verify(backend.url("meta"), None, [BASE + BLOCK]) == (BASE + BLOCK, True)
    # killed with every chunk written and the journal's PUT cut off half way
    (killed,) = run_writer([job(backend, "journal", commit - 1, "after")])
    assert killed["status"] == 9
    (tmp_path / "journal" / journal.KEY).write_bytes(b'{"format":"shoal-flush-journal","ver')
    assert verify(backend.url("journal"), None, [BASE])[0] == BASE
    (tmp_path / "journal" / journal.KEY).write_bytes(b"")
    assert verify(backend.url("journal"), None, [BASE + BLOCK])[0] == BASE + BLOCK


def test_deeplake_copies_and_deletes_a_dataset_with_a_journal(tmp_path: Path, run_dl: Any) -> None:
    backend = local_backend(tmp_path)
    make_base(backend.url("src"))
    # killed just before deleting the journal: every object is written, the journal is left
    backend.copy("src", ["count"])
    writes = run_writer([job(backend, "count", None, "before")])[0]["writes"]
    (result,) = run_writer([job(backend, "src", len(writes), "before")])
    assert result["status"] == 9 and (tmp_path / "src" / journal.KEY).is_file()
    # the killed writer's lock: deeplake would wait for it to expire (five minutes)
    (tmp_path / "src" / "dataset_lock.lock").unlink()
    shutil.copytree(tmp_path / "src", tmp_path / "later")
    proc = run_dl("copy-delete", tmp_path / "src", tmp_path / "dst")
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"copied_len": BASE + BLOCK}
    assert not any(p.is_file() for p in (tmp_path / "src").rglob("*"))  # the journal went too
    assert check_samples(shoal.load(str(tmp_path / "dst")), [BASE + BLOCK])
    # deeplake writes after the flush completed: the journal left behind is stale and ignored
    run_dl("append", tmp_path / "later", json.dumps({"x": [[7]], "images": [[[[1, 2, 3]]]]}))
    ds = shoal.load(str(tmp_path / "later"))
    assert len(ds.x) == BASE + BLOCK + 1 and ds.x[-1].numpy().tolist() == [7]
    assert not (tmp_path / "later" / journal.KEY).is_file()


def test_a_foreign_journal_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    make_base(str(path))
    (path / journal.KEY).write_text('{"format": "something else"}')
    for read_only in (True, False):
        with pytest.raises(errors.CorruptDataError, match=f"{journal.KEY}.*delete"):
            shoal.load(str(path), read_only=read_only)
    (path / journal.KEY).unlink()
    assert len(shoal.load(str(path)).x) == BASE


def test_a_flush_that_cannot_be_undone_is_completed_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails after the commit point and again while undoing: the flush is kept,
    in memory and in the journal, and the next flush (or open) writes it whole."""
    path = tmp_path / "ds"
    make_base(str(path))
    ds = shoal.load(str(path))
    real_put = LocalStorage.put
    broken = {"on": True}

    async def put(self: LocalStorage, key: str, data: Any) -> None:
        if broken["on"] and key == "x/tensor_meta.json":
            if json.loads(bytes(data))["length"] > BASE:
                await real_put(self, key, data)  # written, but the reply is lost
            raise errors.StorageError("connection reset")
        await real_put(self, key, data)

    monkeypatch.setattr(LocalStorage, "put", put)
    with pytest.raises(journal.FlushIncompleteError, match="completed by the next flush"):
        append(ds, BASE, BLOCK)
    assert (path / journal.KEY).is_file()
    assert len(ds.x) == BASE + BLOCK  # what storage holds once recovered
    shutil.copytree(path, tmp_path / "copy")
    assert check_samples(shoal.load(str(tmp_path / "copy"), read_only=True), [BASE + BLOCK])
    broken["on"] = False
    append(ds, BASE + BLOCK, BLOCK)  # first completes the pending flush
    assert check_samples(shoal.load(str(path)), [BASE + 2 * BLOCK])
    assert check_samples(shoal.load(str(tmp_path / "copy")), [BASE + BLOCK])


def test_kill_while_creating_a_dataset(tmp_path: Path, run_dl: Any) -> None:
    """The flushes of ``shoal.empty`` and ``create_tensor`` (dataset meta, version info, new
    tensors) are atomic too: killed after any of their writes, the dataset is missing or holds
    whole tensors, and opens and takes samples."""
    backend = local_backend(tmp_path)
    (counted,) = run_writer([{**job(backend, "count", None, "after"), "create": True}])
    writes: list[str] = counted["writes"]
    # three flushes (the dataset, x and its companions, images and its companions), then data
    ends = [i + 1 for i, key in enumerate(writes) if key == journal.KEY][1:6:2]
    assert len(ends) == 3 and writes[ends[-1]].startswith("x/chunks/"), writes
    cases = [("before", 1)] + [("after", k) for k in range(1, ends[-1] + 1)]
    names = [f"{when}{k}" for when, k in cases]
    jobs = [
        {**job(backend, n, k, w), "start": 0, "create": True}
        for n, (w, k) in zip(names, cases, strict=True)
    ]
    paths = []
    for name, (when, k), result in zip(names, cases, run_writer(jobs), strict=True):
        assert result["status"] == 9, (name, result)
        done = writes[: k - (when == "before")]
        flushes = (done.count(journal.KEY) + 1) // 2  # puts and deletes of the journal alternate
        url = backend.url(name)
        if flushes == 0:
            assert not shoal.exists(url)
            continue
        want = {0: [], 1: [], 2: ["x"], 3: ["x", "images"]}[flushes]
        for read_only in (True, False):
            ds = shoal.load(url, read_only=read_only)
            assert list(ds.tensors) == want, name
            assert set(lengths(ds).values()) <= {0}, name
        for missing in ("x", "images")[len(want) :]:
            ds.create_tensor(missing, dtype="int64" if missing == "x" else "uint8")
        append(ds, 0, BLOCK)
        assert check_samples(shoal.load(url, read_only=True), [BLOCK])
        paths.append(tmp_path / name)
    seen = deeplake_lengths(run_dl, tmp_path, paths)
    for path in paths:
        check_deeplake_view(seen[str(path)], [BLOCK])
