"""Version control state: commits, branches, and which commit owns a chunk.

``version_control_info.json`` holds ``{"commits": {id: node}, "branches": {name: head}}``. A
branch head is the node with ``commit_time`` null; only heads are writable. Chunks written
after the first commit are listed in ``versions/C/<tensor>/chunk_set``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptDataError, VersionError
from . import jsonio
from .keys import FIRST_COMMIT_ID, VERSION_CONTROL_INFO

_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$|^" + FIRST_COMMIT_ID + "$")


@dataclass
class VersionInfo:
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls) -> VersionInfo:
        node: dict[str, Any] = {
            "branch": "main",
            "parent": None,
            "children": [],
            "commit_message": None,
            "commit_time": None,
            "commit_user_name": None,
            "is_checkpoint": False,
            "total_samples_processed": 0,
        }
        return cls({FIRST_COMMIT_ID: node}, {"main": FIRST_COMMIT_ID})

    @classmethod
    def parse(cls, data: bytes) -> VersionInfo:
        obj = jsonio.loads(data, VERSION_CONTROL_INFO)
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("commits"), dict)
            or not isinstance(obj.get("branches"), dict)
        ):
            raise CorruptDataError(
                f"{VERSION_CONTROL_INFO} lacks 'commits' or 'branches'; the dataset's version "
                "history is damaged"
            )
        return cls(obj["commits"], obj["branches"])

    def serialize(self) -> bytes:
        return jsonio.dumps_compact({"commits": self.commits, "branches": self.branches})

    def resolve(self, version: str | None) -> tuple[str, str | None]:
        """``(commit_id, branch)`` for a branch name or commit id; None means main's head.

        ``branch`` is set only when the commit is that branch's head (so it is writable).
        """
        if version is None:
            version = "main" if "main" in self.branches else next(iter(self.branches), None)
            if version is None:
                raise CorruptDataError(f"{VERSION_CONTROL_INFO} lists no branches")
        if version in self.branches:
            return self.branches[version], version
        if version in self.commits:
            node = self.commits[version]
            branch = node.get("branch")
            if (
                node.get("commit_time") is None
                and isinstance(branch, str)
                and self.branches.get(branch) == version
            ):
                return version, branch
            return version, None
        raise VersionError(
            f"no branch or commit named {version!r}; branches: {sorted(self.branches)}"
        )

    def ancestors(self, commit_id: str) -> list[str]:
        """``commit_id`` and its parents up to the first commit, nearest first."""
        out = []
        seen = set()
        current: str | None = commit_id
        while current is not None and current not in seen:
            seen.add(current)
            out.append(current)
            node = self.commits.get(current)
            if node is None:
                break
            current = node.get("parent")
        return out


def parse_chunk_set(data: bytes) -> dict[str, tuple[str | None, str | None]]:
    """``name -> (commit_id or None, tensor_key or None)`` from a chunk_set object."""
    text = data.decode("utf-8", errors="replace").strip()
    out: dict[str, tuple[str | None, str | None]] = {}
    if not text:
        return out
    for entry in text.split(","):
        parts = entry.strip().split(":")
        if not parts[0]:
            continue
        commit = parts[1] if len(parts) > 1 and parts[1] else None
        key = parts[2] if len(parts) > 2 and parts[2] else None
        out[parts[0]] = (commit, key)
    return out


def serialize_chunk_set(names: list[str]) -> bytes:
    return ",".join(names).encode()


def is_commit_id(value: str) -> bool:
    return bool(_COMMIT_ID.match(value))


# -- writing history (deeplake's CommitNode and save_version_info) ---------------------------
def new_node(branch: str, parent: str | None) -> dict[str, Any]:
    """An uncommitted head node, as deeplake stores one."""
    return {
        "branch": branch,
        "parent": parent,
        "children": [],
        "commit_message": None,
        "commit_time": None,
        "commit_user_name": None,
        "is_checkpoint": False,
        "total_samples_processed": 0,
    }


def commit_info_key(commit_id: str) -> str:
    return ("" if commit_id == FIRST_COMMIT_ID else f"versions/{commit_id}/") + "commit_info.json"


def commit_info(node: dict[str, Any]) -> bytes:
    """``commit_info.json`` of a node: its fields in ``CommitNode.to_json`` order."""
    order = (
        "branch",
        "children",
        "parent",
        "commit_message",
        "commit_time",
        "commit_user_name",
        "is_checkpoint",
        "total_samples_processed",
    )
    return jsonio.dumps_compact({k: node.get(k) for k in order})


def merged(stored: VersionInfo, ours: VersionInfo, dropped: frozenset[str]) -> VersionInfo:
    """Our history merged into what storage holds now (another writer may have committed on
    another branch since we read it), as deeplake's ``save_version_info`` merges: nodes in
    both have their children united and unset fields filled. ``dropped``: commits we
    removed (reset, deleted branches), kept out."""
    commits: dict[str, dict[str, Any]] = {}
    for cid, node in stored.commits.items():
        if cid not in dropped:
            commits[cid] = dict(node, children=[c for c in node["children"] if c not in dropped])
    for cid, node in ours.commits.items():
        old = commits.get(cid)
        if old is None:
            commits[cid] = dict(node, children=list(node["children"]))
            continue
        both = dict(old)
        for k, v in node.items():
            if k == "children":
                both[k] = list(dict.fromkeys([*node["children"], *old["children"]]))
            elif v is not None and v is not False and v != 0:
                both[k] = v
        commits[cid] = both
    branches = {b: h for b, h in stored.branches.items() if h not in dropped}
    branches.update(ours.branches)
    return VersionInfo(commits, branches)
