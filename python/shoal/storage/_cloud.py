"""The plumbing every cloud provider shares, written once.

Providers (``_s3``, ``_gcs``, the platform client) keep only what is theirs: parsing
locations, the operations, and the mapping of their errors (on error codes and HTTP statuses).
What they share is here, or re-exported from the layer below so auth can use it too:

**Retries** -- :class:`RetryPolicy`, :class:`Verdict`, :class:`Attempts` (from
:mod:`shoal._retry`; see there). A provider builds one policy from its options and runs each
request as ``await policy.start(classify, recover).run(attempt)``; ``classify`` says which
failures are retryable (and which are throttling), ``recover`` may fix one failure (refresh
credentials) once. Sleep, clock and jitter are injectable.

**Settings** -- :func:`env_int`, :func:`env_float` (from :mod:`shoal._env`):
``env_int("SHOAL_S3_MAX_ATTEMPTS", 6, min=1)``; a bad value raises
:class:`~shoal.errors.SettingError` naming the variable.

**Secrets** -- :func:`scrub`, :func:`remember_secret`, :class:`RedactSecrets` (from
:mod:`shoal._secrets`), and :func:`write_private` (from :mod:`shoal._files`): the 0600 atomic
file writer.

**Pooled clients** -- :class:`ClientCache` and :func:`close_on_loop` (from :mod:`shoal._pool`,
usable by auth and the platform client too): one cache per kind of client and process. A
client (an aiobotocore client, an ``aiohttp`` session: anything with connections) is keyed by
what makes it reusable -- endpoint, credentials identity, client settings -- *and* by the
running event loop and the process::

    _clients: ClientCache[Any] = ClientCache("s3")

    async def make(stack: contextlib.AsyncExitStack) -> Any:
        return await stack.enter_async_context(session.create_client("s3", ...))

    lease = await _clients.acquire(key, make)   # a hit costs a dict lookup
    lease.client                                # use it on this loop only
    lease.valid()                               # False on another loop, in a forked child
    lease.release()                             # from close(), a finalizer, any thread

A released client stays in the cache, idle, for the next open of the same location with the
same credentials (at most ``max_idle`` idle clients per loop; the oldest are closed first).
Every client of a loop is closed, on that loop, when the loop shuts down
(``asyncio.run`` and every runner call ``loop.shutdown_asyncgens()``, which closes a sentinel
async generator the cache starts on each loop); clients of a loop still running in another
thread at exit (shoal's background loop) are closed there by an ``atexit`` hook. A forked
child (a DataLoader worker) never touches what it inherited: the pools are shared with the
parent's sockets, so they are set aside without being used or closed, and the child builds
its own.
"""

from __future__ import annotations

from .._env import env_float, env_int
from .._files import write_private
from .._pool import ClientCache, Lease, LeaseHold, close_on_loop
from .._retry import NO_RETRY, Attempts, Classify, Recover, RetryPolicy, Verdict
from .._secrets import RedactSecrets, remember_secret, scrub

__all__ = [
    "NO_RETRY",
    "Attempts",
    "Classify",
    "ClientCache",
    "Lease",
    "LeaseHold",
    "Recover",
    "RedactSecrets",
    "RetryPolicy",
    "Verdict",
    "close_on_loop",
    "env_float",
    "env_int",
    "remember_secret",
    "scrub",
    "write_private",
]
