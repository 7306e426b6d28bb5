"""``ds.diff()``: what changed in which commit, as deeplake 3.9.52 reports it
(``util/diff.py``): per commit, the dataset's changes (info, renamed and deleted tensors) and
each visible tensor's (created, cleared, samples added, updated, deleted, info), walking from
each side up to their most recent common ancestor."""

from __future__ import annotations

import datetime
from typing import Any

from ..errors import VersionError
from ..format import jsonio, keys
from ..format.diffs import DatasetChanges, TensorChanges
from ..format.versions import VersionInfo
from ..storage import Storage

SEPARATOR = "-" * 120


def commit_time_str(ts: float | None) -> str | None:
    """deeplake's ``str(commit_time)[:-7]`` of a local naive datetime."""
    if ts is None:
        return None
    return str(datetime.datetime.fromtimestamp(ts))[:-7]


def resolve(versions: VersionInfo, ref: str) -> str:
    if ref in versions.commits:
        return ref
    if ref in versions.branches:
        return versions.branches[ref]
    raise VersionError(
        f"no commit or branch {ref!r} in this dataset; branches: {sorted(versions.branches)}"
    )


def common_ancestor(versions: VersionInfo, a: str, b: str) -> str:
    theirs = set(versions.ancestors(b))
    return next(c for c in versions.ancestors(a) if c in theirs)


async def changes_of(
    storage: Storage, versions: VersionInfo, commit_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(dataset change, tensor changes)`` of one commit, in deeplake's dict forms."""
    node = versions.commits[commit_id]
    meta_key = keys.dataset_key(commit_id, keys.DATASET_META)
    raw_meta, raw_ds = await storage.get_many(
        [meta_key, keys.dataset_key(commit_id, keys.DATASET_DIFF)]
    )
    meta = jsonio.loads(raw_meta, f"{storage.url}/{meta_key}") if raw_meta else {}
    ds_diff = DatasetChanges.parse(raw_ds, commit_id) if raw_ds else DatasetChanges()
    ds_change: dict[str, Any] = {
        "commit_id": commit_id,
        "author": node.get("commit_user_name"),
        "message": node.get("commit_message"),
        "date": commit_time_str(node.get("commit_time")),
        "info_updated": ds_diff.info_updated,
        "renamed": dict(ds_diff.renamed),
        "deleted": list(ds_diff.deleted),
    }
    names = meta.get("tensor_names") or {k: k for k in meta.get("tensors", [])}
    hidden = set(meta.get("hidden_tensors", []))
    visible = [(n, k) for n, k in names.items() if k not in hidden]
    raws = await storage.get_many(
        [keys.tensor_key(commit_id, k, keys.COMMIT_DIFF) for _, k in visible]
    )
    tensor_change: dict[str, Any] = {"commit_id": commit_id}
    for (name, key), raw in zip(visible, raws, strict=True):
        where = f"{storage.url}/{keys.tensor_key(commit_id, key, keys.COMMIT_DIFF)}"
        diff = TensorChanges.parse(raw, where) if raw is not None else TensorChanges()
        tensor_change[name] = diff.as_dict()
    return ds_change, tensor_change


async def _walk(
    storage: Storage, versions: VersionInfo, start: str, stop: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ds_changes: list[dict[str, Any]] = []
    tensor_changes: list[dict[str, Any]] = []
    for commit in versions.ancestors(start):
        if commit == stop:
            break
        d, t = await changes_of(storage, versions, commit)
        ds_changes.append(d)
        tensor_changes.append(t)
    return ds_changes, tensor_changes


async def diff(
    storage: Storage,
    versions: VersionInfo,
    current: str,
    id_1: str | None,
    id_2: str | None,
) -> tuple[dict[str, Any], str]:
    """``(as_dict result, printed text)`` of deeplake's ``ds.diff(id_1, id_2)``."""
    head = versions.commits[current].get("commit_time") is None
    if id_1 is None and id_2 is None:
        d, t = await changes_of(storage, versions, current)
        s = "HEAD" if head else f"{current} (current commit)"
        msg_1 = f"Diff in {s} relative to the previous commit:\n"
        text = render([d], None, [t], None, None, msg_1, None)
        return {"dataset": [d], "tensor": [t]}, text
    if id_1 is None:
        raise VersionError("diff: id_2 was given without id_1; pass id_1 too (or neither)")
    msg_0 = "The 2 diffs are calculated relative to the most recent common ancestor (%s) of the "
    if id_2 is None:
        msg_0 += "current state and the commit passed."
        id_2, id_1 = id_1, current
        msg_1 = "Diff in HEAD:\n" if head else f"Diff in {id_1} (current commit):\n"
        msg_2 = f"Diff in {id_2} (target id):\n"
    else:
        msg_0 += "two commits passed."
        msg_1 = f"Diff in {id_1} (target id 1):\n"
        msg_2 = f"Diff in {id_2} (target id 2):\n"
    a, b = resolve(versions, id_1), resolve(versions, id_2)
    lca = common_ancestor(versions, a, b)
    d1, t1 = await _walk(storage, versions, a, lca)
    d2, t2 = await _walk(storage, versions, b, lca)
    text = render(d1, d2, t1, t2, msg_0 % lca, msg_1, msg_2)
    return {"dataset": (d1, d2), "tensor": (t1, t2)}, text


# -- the printed form ------------------------------------------------------------------------
def _colour(text: str, colour: str) -> str:
    return {"yellow": "\033[93m", "blue": "\033[94m"}[colour] + text + "\033[0m"


def render(
    d1: list[dict[str, Any]],
    d2: list[dict[str, Any]] | None,
    t1: list[dict[str, Any]],
    t2: list[dict[str, Any]] | None,
    msg_0: str | None,
    msg_1: str,
    msg_2: str | None,
) -> str:
    out = ["\n## Deep Lake Diff"]
    if msg_0:
        out.append(msg_0)
    out.append(_changes(d1, t1, _colour(msg_1, "blue")))
    if t2 is not None and d2 is not None and msg_2 is not None:
        out.append(_changes(d2, t2, _colour(msg_2, "blue")))
    out.append(SEPARATOR)
    return "\n".join(out)


def _changes(
    ds_changes: list[dict[str, Any]], tensor_changes: list[dict[str, Any]], msg: str
) -> str:
    out = [SEPARATOR, msg]
    for ds_change, tensor_change in zip(ds_changes, tensor_changes, strict=False):
        date = ds_change["date"]
        commit = "UNCOMMITTED HEAD" if date is None else ds_change["commit_id"]
        lines = [
            "*" * 80,
            _colour(f"commit {commit}", "yellow"),
            f"Author: {ds_change['author']}",
            f"Date: {date}",
            f"Message: {ds_change['message']}",
            "",
        ]
        if ds_change.get("info_updated"):
            lines.append("- Updated dataset info \n")
        lines += [f"- Deleted:\t{n}" for n in ds_change.get("deleted") or []]
        lines += [f"- Renamed:\t{o} -> {n}" for o, n in (ds_change.get("renamed") or {}).items()]
        if len(lines) > 6:
            lines.append("\n")
        for name in sorted(k for k in tensor_change if k != "commit_id"):
            lines += _tensor_lines(name, tensor_change[name])
        if len(lines) == 6:
            lines.append("No changes were made in this commit.")
        out.extend(lines)
    if len(out) == 2:
        out.append("No changes were made.\n")
    return "\n".join(out)


def _tensor_lines(name: str, c: dict[str, Any]) -> list[str]:
    added = c["data_added"]
    if not (
        c["created"]
        or c["cleared"]
        or added[1] > added[0]
        or c["data_updated"]
        or c["info_updated"]
        or c["data_deleted"]
    ):
        return []
    lines = [name]
    if c["created"]:
        lines.append("* Created tensor")
    if c["cleared"]:
        lines.append("* Cleared tensor")
    n = added[1] - added[0]
    if n:
        lines.append(f"* Added {n} {'sample' if n == 1 else 'samples'}: [{added[0]}-{added[1]}]")
    for what, key in (("Updated", "data_updated"), ("Deleted", "data_deleted")):
        if c[key]:
            lines.append(_indices(c[key], what))
    if c["info_updated"]:
        lines.append("* Updated tensor info")
    lines.append("")
    return lines


def _indices(indices: set[int], what: str) -> str:
    ordered = sorted(indices)
    runs: list[tuple[int, int]] = []
    for i in ordered:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    text = ", ".join(str(s) if s == e else f"{s}-{e}" for s, e in runs)
    word = "sample" if len(indices) == 1 else "samples"
    return f"* {what} {len(indices)} {word}: [{text}]"
