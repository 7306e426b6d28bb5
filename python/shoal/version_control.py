"""Version control on datasets: commit, checkout, branches, log, diff, reset, delete_branch,
merge and close, as deeplake 3.9.52 offers them. :class:`AsyncVersionControl` is mixed into
``AsyncDataset`` (awaitable I/O), :class:`VersionControl` into the sync ``Dataset``.

deeplake's naming is kept: ``commit_id`` is the last commit of the current version (None
before the first commit), ``pending_commit_id`` the id the next commit will freeze (the head
a writer writes to). Unlike deeplake, a checked-out past commit is read-only: a write there
raises :class:`~shoal.errors.ReadOnlyError` (check out a branch, or create one with
``checkout(name, create=True)``) instead of silently creating an ``auto_...`` branch.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from . import _loop
from .engine import diff as diffs
from .engine import lock as locks
from .engine import versions
from .engine.dataset import DatasetEngine
from .engine.merge import merge
from .errors import ShoalError, VersionError

if TYPE_CHECKING:
    from ._index import Index


class AsyncVersionControl:
    _engine: DatasetEngine
    _eager: bool
    _index: Index

    def _check_root(self, what: str) -> None:
        if not self._index.is_full:
            raise ShoalError(f"{what} works on the whole dataset, not on a view")

    # -- where we are ------------------------------------------------------------------------
    @property
    def branch(self) -> str:
        """The current branch (of the checked-out commit, when it is not a head)."""
        e = self._engine
        return e.branch or str(e.versions.commits[e.commit_id].get("branch"))

    @property
    def branches(self) -> list[str]:
        return list(self._engine.versions.branches)

    @property
    def pending_commit_id(self) -> str:
        """The commit being written (a branch head), or the checked-out past commit."""
        return self._engine.commit_id

    @property
    def commit_id(self) -> str | None:
        """The last commit of this version (None if nothing was committed yet)."""
        e = self._engine
        node = e.versions.commits.get(e.commit_id, {})
        if node.get("commit_time") is not None:
            return e.commit_id
        parent = node.get("parent")
        return str(parent) if parent is not None else None

    @property
    def commits(self) -> list[dict[str, Any]]:
        """The commits leading to this version, newest first: ``commit``, ``author``,
        ``time``, ``message``."""
        versions = self._engine.versions
        return [
            self.get_commit_details(c)
            for c in versions.ancestors(self._engine.commit_id)
            if versions.commits.get(c, {}).get("commit_time") is not None
        ]

    def get_commit_details(self, commit_id: str) -> dict[str, Any]:
        node = self._engine.versions.commits.get(commit_id)
        if node is None:
            raise VersionError(f"no commit {commit_id!r} in this dataset")
        return {
            "commit": commit_id,
            "author": node.get("commit_user_name"),
            "time": diffs.commit_time_str(node.get("commit_time")),
            "message": node.get("commit_message"),
        }

    @property
    def is_head_node(self) -> bool:
        return self._engine.branch is not None

    async def has_head_changes_async(self) -> bool:
        """Whether this is a branch head with uncommitted changes."""
        e = self._engine
        if e.branch is None:
            return False
        return e.writes.dirty or await versions.head_has_changes(e.storage, e.commit_id, e.meta)

    # -- moving ------------------------------------------------------------------------------
    async def _switch(self, version: str, head_lock: locks.WriteLock | None = None) -> None:
        """Reopen this handle at ``version``; the head lock is released (``head_lock``: the
        lock of the head at ``version``, taken already, is held instead)."""
        old = self._engine
        opened = DatasetEngine.open(old.storage, version, load_tensors=self._eager, known=old)
        try:
            if old.head_lock is None:
                engine = await opened  # nothing to release alongside: no extra task
            else:
                engine, _ = await asyncio.gather(opened, old.release_lock())
        except BaseException:
            if head_lock is not None:
                await asyncio.shield(head_lock.release())
            raise
        engine.lock_timeout, engine.lock_enabled = old.lock_timeout, old.lock_enabled
        if head_lock is not None:
            engine.head_lock = locks.adopt(engine, head_lock)
        engine.links = engine.ctx.links = old.links  # populated creds stay
        # chunk objects never change under their key (writes go to new keys, and each commit
        # has its own): what was decoded at one version serves the others
        engine.ctx.cache, engine.ctx.headers = old.ctx.cache, old.ctx.headers
        object.__setattr__(self, "_engine", engine)

    async def _prepare_write(self, what: str) -> DatasetEngine:
        self._check_root(what)
        e = self._engine
        e.check_writable()
        await e.writes.flush()
        await e.hold_lock()
        return e

    async def commit_async(self, message: str | None = None, allow_empty: bool = False) -> str:
        """Commit the branch head; returns the id of the commit made. Raises
        ``EmptyCommitError`` when nothing changed (``allow_empty=True`` commits anyway)."""
        self._check_root("commit")
        e = self._engine
        e.check_writable()
        committed, head_lock = await versions.commit_head(e, message, allow_empty)
        await self._switch(str(e.branch), head_lock)
        return committed

    async def checkout_async(self, address: str, create: bool = False) -> str | None:
        """Switch to a branch (writable at its head) or a commit (read-only); with
        ``create``, make branch ``address`` from here first. Returns ``commit_id``."""
        self._check_root("checkout")
        e = self._engine
        if create:
            if e.storage.read_only:
                e.storage.check_writable("a new branch")
            await e.writes.flush()
            plan, _ = await versions.plan_branch(e, address)
            if e.branch is not None:
                await e.hold_lock()  # the plan may commit the head first
            await versions.store(e.storage, plan, e.branch)
        else:
            try:
                e.versions.resolve(address)
            except VersionError:
                raise VersionError(
                    f"no branch or commit {address!r} in {e.url}; branches: "
                    f"{sorted(e.versions.branches)}; to create a branch, use "
                    f"checkout({address!r}, create=True)"
                ) from None
            if not e.read_only:
                await e.writes.flush()
        await self._switch(address)
        return self.commit_id

    async def reset_async(self) -> None:
        """Drop every uncommitted change of this branch head (deleted from storage)."""
        self._check_root("reset")
        e = self._engine
        if e.branch is None:
            print("You are not at the head node of the branch, cannot reset.")
            return
        e.storage.check_writable("the dataset")
        await e.writes.abandon()
        if not await versions.head_has_changes(e.storage, e.commit_id, e.meta):
            print("There are no uncommitted changes on this branch.")
            return
        await e.hold_lock()
        plan = await versions.plan_reset(e)
        await versions.store(e.storage, plan, e.branch)
        await e.release_lock()  # the reset head's lock went with its directory
        await self._switch(e.branch)

    async def delete_branch_async(self, name: str) -> None:
        """Delete a branch never merged anywhere and with no branches from it."""
        self._check_root("delete_branch")
        e = self._engine
        e.storage.check_writable("the dataset")
        await e.writes.flush()
        plan = await versions.plan_delete_branch(e, name)
        e.versions = await versions.store(e.storage, plan, e.branch)

    async def merge_async(
        self,
        target_id: str,
        conflict_resolution: str | None = None,
        delete_removed_tensors: bool = False,
        force: bool = False,
    ) -> None:
        """Merge a branch or commit into this branch head and commit the result (see
        :mod:`shoal.engine.merge`). Raises ``MergeConflictError`` (nothing changed) when
        samples changed on both sides and ``conflict_resolution`` is None."""
        e = await self._prepare_write("merge")
        if await merge(e, target_id, conflict_resolution, delete_removed_tensors, force):
            await self._switch(str(e.branch))

    # -- reporting ---------------------------------------------------------------------------
    async def log_async(self) -> str:
        e = self._engine
        lines = ["---------------\nDeep Lake Version Log\n---------------\n"]
        lines.append(f"Current Branch: {self.branch}")
        if await self.has_head_changes_async():
            lines.append("** There are uncommitted changes on this branch.")
        lines.append("")
        for c in e.versions.ancestors(e.commit_id):
            node = e.versions.commits[c]
            if node.get("commit_time") is None:
                continue
            text = (
                f"Commit : {c} ({node.get('branch')}) \nAuthor : {node.get('commit_user_name')}"
                f"\nTime   : {diffs.commit_time_str(node.get('commit_time'))}"
                f"\nMessage: {node.get('commit_message')}"
            )
            if node.get("is_checkpoint"):
                text += (
                    f"\nTotal samples processed in transform: {node.get('total_samples_processed')}"
                )
            lines.append(f"{text}\n")
        out = "\n".join(lines)
        print(out)
        return out

    async def diff_async(
        self, id_1: str | None = None, id_2: str | None = None, as_dict: bool = False
    ) -> dict[str, Any] | None:
        """deeplake's ``diff``: printed, or returned with ``as_dict=True``."""
        e = self._engine
        if not e.read_only:
            await e.writes.flush()
        result, text = await diffs.diff(e.storage, e.versions, e.commit_id, id_1, id_2)
        if as_dict:
            return result
        print(text)
        return None

    async def close_async(self) -> None:
        """Write what is staged and give up the write lock (others may write now)."""
        e = self._engine
        if not e.read_only:
            await e.writes.flush()
        await e.release_lock()


class VersionControl:
    """The sync façade of :class:`AsyncVersionControl` (``Dataset`` holds one as ``_a``)."""

    _a: Any

    branch = property(lambda self: self._a.branch)
    branches = property(lambda self: self._a.branches)
    commit_id = property(lambda self: self._a.commit_id)
    pending_commit_id = property(lambda self: self._a.pending_commit_id)
    commits = property(lambda self: self._a.commits, doc="Commits of this version, newest first.")
    is_head_node = property(lambda self: self._a.is_head_node)

    @property
    def has_head_changes(self) -> bool:
        return bool(_loop.run(self._a.has_head_changes_async()))

    def get_commit_details(self, commit_id: str) -> dict[str, Any]:
        return dict(self._a.get_commit_details(commit_id))

    def commit(self, message: str | None = None, allow_empty: bool = False) -> str:
        """Commit the branch head; the id of the commit made."""
        return str(_loop.run(self._a.commit_async(message, allow_empty)))

    def checkout(self, address: str, create: bool = False, reset: bool = False) -> str | None:
        """Switch to a branch or commit (``create``: a new branch from here). ``reset`` is
        accepted for deeplake's signature: a branch a killed writer left half written is
        completed or rolled back when it is opened, so there is nothing to reset."""
        result: str | None = _loop.run(self._a.checkout_async(address, create))
        return result

    async def checkout_async(self, address: str, create: bool = False) -> str | None:
        result: str | None = await self._a.checkout_async(address, create)
        return result

    def reset(self, force: bool = False) -> None:
        """Drop the uncommitted changes of this branch head (``force`` is accepted for
        deeplake's signature: shoal needs no forcing, an interrupted flush being completed or
        dropped on open)."""
        _loop.run(self._a.reset_async())

    def delete_branch(self, name: str) -> None:
        _loop.run(self._a.delete_branch_async(name))

    def merge(
        self,
        target_id: str,
        conflict_resolution: str | None = None,
        delete_removed_tensors: bool = False,
        force: bool = False,
    ) -> None:
        """Merge a branch or commit into this branch head ("ours"/"theirs" resolve conflicts)."""
        _loop.run(
            self._a.merge_async(target_id, conflict_resolution, delete_removed_tensors, force)
        )

    def log(self) -> None:
        """Print the commits leading to this version."""
        _loop.run(self._a.log_async())

    def diff(
        self, id_1: str | None = None, id_2: str | None = None, as_dict: bool = False
    ) -> dict[str, Any] | None:
        """Print (or with ``as_dict``, return) the changes between versions, per commit."""
        result: dict[str, Any] | None = _loop.run(self._a.diff_async(id_1, id_2, as_dict))
        return result

    def close(self) -> None:
        """Flush and release the write lock."""
        _loop.run(self._a.close_async())
