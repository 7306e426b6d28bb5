"""The platform's database as the server's handlers use it: every call runs on a small pool
of worker threads, each with its own SQLite connection, never on the event loop. A write that
waits for a lock held elsewhere (another process, a backup) then stalls only its own request;
health checks, reads and everything else go on.

:class:`AsyncDatabase` mirrors :class:`.db.Database` method for method (``await db.user(...)``);
:meth:`AsyncDatabase.run` runs any other function that uses the database (the credentials
store's) the same way. On PostgreSQL each worker thread holds one psycopg connection (the
same methods, the same threads: no query is written twice).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from .db import Database

__all__ = ["AsyncDatabase"]

P = ParamSpec("P")
T = TypeVar("T")

#: Worker threads (and connections). Writers take turns (on either database); readers run
#: alongside.
WORKERS = 4


def _off(
    fn: Callable[Concatenate[Database, P], T],
) -> Callable[Concatenate[AsyncDatabase, P], Coroutine[Any, Any, T]]:
    async def method(db: AsyncDatabase, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await db.run(fn, db.sync, *args, **kwargs)

    method.__name__, method.__doc__ = fn.__name__, fn.__doc__
    return method


class AsyncDatabase:
    """:class:`Database` with every method a coroutine run on the worker threads."""

    def __init__(self, sync: Database, workers: int = WORKERS) -> None:
        self.sync = sync
        self.path = sync.path
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shoal-db")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.sync.close()

    create_user = _off(Database.create_user)
    user = _off(Database.user)
    user_by_id = _off(Database.user_by_id)
    set_password_hash = _off(Database.set_password_hash)
    add_token = _off(Database.add_token)
    token = _off(Database.token)
    api_tokens = _off(Database.api_tokens)
    revoke_token_named = _off(Database.revoke_token_named)
    revoke_jti = _off(Database.revoke_jti)
    create_org = _off(Database.create_org)
    org = _off(Database.org)
    role = _off(Database.role)
    orgs_of = _off(Database.orgs_of)
    members = _off(Database.members)
    set_member = _off(Database.set_member)
    remove_member = _off(Database.remove_member)
    dataset = _off(Database.dataset)
    datasets = _off(Database.datasets)
    url_in_use = _off(Database.url_in_use)
    put_dataset = _off(Database.put_dataset)
    delete_dataset = _off(Database.delete_dataset)
    update_dataset = _off(Database.update_dataset)
