"""The one retry policy for every network call shoal makes (storage, auth, the platform).

Usage, in a provider::

    policy = RetryPolicy(max_attempts=5, backoff_base=0.1, backoff_max=10.0)

    def classify(exc: BaseException) -> Verdict:          # the provider's knowledge
        if is_throttling(exc):
            return Verdict(retry=True, throttled=True, retry_after=header_value_or_None)
        return Verdict(retry=is_transient(exc))

    attempts = policy.start(classify, recover=refresh_credentials_once)
    try:
        return await attempts.run(lambda: one_request())
    except ShoalError:
        raise
    except Exception as exc:
        raise map_error(exc, attempts=attempts.count) from None

* :class:`RetryPolicy` -- how many attempts (``max_attempts``, first try included), how long
  in all (``deadline`` seconds from the first try, ``None`` for no limit) and how long to wait
  between them: exponential backoff ``backoff_base * 2**(retry-1)`` capped at ``backoff_max``,
  x ``throttle_factor`` when the server said "slow down", with "equal jitter" (a random delay
  between half the ceiling and the ceiling, so clients that failed together do not retry
  together), and never less than a server's ``Retry-After`` (itself capped at ``backoff_max``).
  ``sleep``, ``clock`` and ``rand`` are injectable: tests run a policy without waiting.
* :class:`Verdict` -- the provider's answer about one failure: retry it or not, was it
  throttling, did the server say when to come back. What is retryable is decided there, on
  error codes and HTTP statuses, never here.
* :meth:`Attempts.run` -- runs an attempt until it succeeds, the verdict says stop, the
  attempts or the deadline run out; then the *original* exception propagates (the provider
  maps it, knowing the number of attempts from :attr:`Attempts.count`). A ``recover`` hook
  (refresh credentials, re-authenticate) is offered a failure the verdict will not retry, at
  most once per operation; when it returns True the operation is tried again at once, and
  that try is not counted. Shoal errors raised by an attempt are final (already mapped), and
  ``asyncio.CancelledError`` always propagates at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import ShoalError

# Jitter draws from its own generator: a library must not advance the caller's global
# random state (seeded experiments), nor trip tools that watch it, from background retries.
_JITTER = random.Random()

__all__ = ["NO_RETRY", "Attempts", "Classify", "Recover", "RetryPolicy", "Verdict"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a provider says about one failed attempt."""

    retry: bool
    throttled: bool = False  # the server asked to slow down: back off harder
    retry_after: float | None = None  # seconds the server asked to wait (Retry-After)


NO_RETRY = Verdict(False)

#: The provider's judgement of a failure.
Classify = Callable[[BaseException], Verdict]
#: Offered a failure that will not be retried; True: fixed (new credentials), try again now.
Recover = Callable[[BaseException], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts, deadline and backoff of one kind of request. Immutable; share it freely."""

    max_attempts: int = 5
    backoff_base: float = 0.1
    backoff_max: float = 10.0
    throttle_factor: float = 5.0
    deadline: float | None = None
    sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, compare=False, repr=False
    )
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)
    rand: Callable[[], float] = field(default=_JITTER.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.throttle_factor < 1:
            raise ValueError("backoff_base and backoff_max must be >= 0, throttle_factor >= 1")

    def delay(self, retry: int, verdict: Verdict = NO_RETRY) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        base = self.backoff_base * (self.throttle_factor if verdict.throttled else 1.0)
        ceiling = min(self.backoff_max, base * 2.0 ** max(0, retry - 1))
        wait = ceiling / 2 + self.rand() * ceiling / 2
        if verdict.retry_after is not None and verdict.retry_after > 0:
            wait = max(wait, min(verdict.retry_after, self.backoff_max))
        return wait

    def start(self, classify: Classify, recover: Recover | None = None) -> Attempts:
        """The attempts of one operation under this policy."""
        return Attempts(self, classify, recover)


class Attempts:
    """One operation's attempts. :attr:`count` says how many were made (for messages)."""

    __slots__ = ("_classify", "_recover", "count", "policy")

    def __init__(self, policy: RetryPolicy, classify: Classify, recover: Recover | None) -> None:
        self.policy = policy
        self._classify = classify
        self._recover = recover
        self.count = 0

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``await attempt()`` until it succeeds or the policy gives up (see the module doc)."""
        policy = self.policy
        started = policy.clock()
        recovered = False
        while True:
            self.count += 1
            try:
                return await attempt()
            except (asyncio.CancelledError, ShoalError):
                raise
            except Exception as exc:
                verdict = self._classify(exc)
                if verdict.retry and self.count < policy.max_attempts:
                    wait = policy.delay(self.count, verdict)
                    if policy.deadline is None or (
                        policy.clock() + wait - started < policy.deadline
                    ):
                        await policy.sleep(wait)
                        continue
                if not recovered and self._recover is not None and await self._recover(exc):
                    recovered = True
                    self.count -= 1  # the failure was ours to fix, not the server's
                    continue
                raise
