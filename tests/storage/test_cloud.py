"""The shared cloud plumbing: retry policy, settings, secrets, private files, client cache."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import stat
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from shoal._env import env_float, env_int
from shoal._files import write_private
from shoal._retry import NO_RETRY, RetryPolicy, Verdict
from shoal._secrets import remember_secret, scrub
from shoal.errors import SettingError, StorageError
from shoal.storage._cloud import ClientCache

# ----------------------------------------------------------------------------------------------
# retries, with an injected clock: nothing here sleeps


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _policy(t: FakeTime, **kw: Any) -> RetryPolicy:
    return RetryPolicy(sleep=t.sleep, clock=t.clock, rand=lambda: 1.0, **kw)


class Transient(Exception):
    pass


def _classify(exc: BaseException) -> Verdict:
    if isinstance(exc, Transient):
        return Verdict(True, throttled="slow" in str(exc), retry_after=getattr(exc, "after", None))
    return NO_RETRY


async def test_retries_back_off_exponentially_up_to_the_cap() -> None:
    t = FakeTime()
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 5:
            raise Transient("boom")
        return "ok"

    attempts = _policy(t, max_attempts=5, backoff_base=0.1, backoff_max=0.5).start(_classify)
    assert await attempts.run(flaky) == "ok"
    assert attempts.count == 5
    assert t.slept == pytest.approx([0.1, 0.2, 0.4, 0.5])  # rand=1: the ceiling, capped


async def test_gives_up_with_the_original_error_and_counts_attempts() -> None:
    t = FakeTime()

    async def always() -> None:
        raise Transient("slow down")

    attempts = _policy(t, max_attempts=3, backoff_base=0.1, backoff_max=10).start(_classify)
    with pytest.raises(Transient):
        await attempts.run(always)
    assert attempts.count == 3
    assert t.slept == pytest.approx([0.5, 1.0])  # throttling: x5


async def test_not_retryable_and_shoal_errors_and_cancellation_are_final() -> None:
    t = FakeTime()
    for exc in (ValueError("no"), StorageError("mapped"), asyncio.CancelledError()):

        async def fail(e: BaseException = exc) -> None:
            raise e

        attempts = _policy(t).start(_classify)
        with pytest.raises(type(exc)):
            await attempts.run(fail)
        assert attempts.count == 1
    assert t.slept == []


async def test_deadline_and_retry_after() -> None:
    t = FakeTime()

    async def always() -> None:
        exc = Transient("x")
        exc.after = 3.0  # type: ignore[attr-defined]
        raise exc

    attempts = _policy(t, max_attempts=100, backoff_max=5.0, deadline=10.0).start(_classify)
    with pytest.raises(Transient):
        await attempts.run(always)
    assert t.slept == [3.0, 3.0, 3.0]  # Retry-After honoured; a 4th wait would pass 10 s
    assert attempts.count == 4


async def test_recover_once_without_counting() -> None:
    t = FakeTime()
    calls = recovered = 0

    async def expired() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise PermissionError("expired")
        return "ok"

    async def recover(exc: BaseException) -> bool:
        nonlocal recovered
        recovered += 1
        return isinstance(exc, PermissionError)

    attempts = _policy(t).start(_classify, recover)
    assert await attempts.run(expired) == "ok"
    assert (attempts.count, recovered, t.slept) == (1, 1, [])

    async def always() -> None:
        raise PermissionError("expired")

    attempts = _policy(t).start(_classify, recover)
    with pytest.raises(PermissionError):
        await attempts.run(always)
    assert recovered == 2  # offered once per operation, not after the retry it allowed


def test_jitter_stays_between_half_and_full_ceiling() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=100.0)
    for retry in range(1, 6):
        for _ in range(20):
            assert 2 ** (retry - 1) / 2 <= policy.delay(retry) <= 2 ** (retry - 1)


def test_jitter_leaves_the_global_random_state_alone() -> None:
    # Retries run on background tasks; drawing from the module-level generator would shift a
    # user's seeded sequence (and trips hypothesis's check on strategies that use `random`).
    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    policy = RetryPolicy(backoff_base=1.0, backoff_max=100.0)
    for retry in range(1, 6):
        policy.delay(retry)
    assert random.random() == expected


# ----------------------------------------------------------------------------------------------
# settings


def test_env_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOAL_TEST_N", raising=False)
    assert env_int("SHOAL_TEST_N", 7, min=1) == 7
    monkeypatch.setenv("SHOAL_TEST_N", "")
    assert env_int("SHOAL_TEST_N", 7) == 7
    monkeypatch.setenv("SHOAL_TEST_N", " 12 ")
    assert env_int("SHOAL_TEST_N", 7, min=1) == 12
    assert env_float("SHOAL_TEST_N", 1.5) == 12.0
    monkeypatch.setenv("SHOAL_TEST_N", "lots")
    with pytest.raises(SettingError, match=r"SHOAL_TEST_N='lots' is not a whole number"):
        env_int("SHOAL_TEST_N", 7)
    monkeypatch.setenv("SHOAL_TEST_N", "0")
    with pytest.raises(SettingError, match=r"SHOAL_TEST_N='0' is out of range: .* at least 1"):
        env_int("SHOAL_TEST_N", 7, min=1)
    monkeypatch.setenv("SHOAL_TEST_N", "nan")
    with pytest.raises(SettingError, match="SHOAL_TEST_N"):
        env_float("SHOAL_TEST_N", 1.0)
    assert isinstance(SettingError("x"), ValueError)


# ----------------------------------------------------------------------------------------------
# secrets


def test_scrub_known_secrets_and_shapes() -> None:
    remember_secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    remember_secret("short")  # too short to scrub safely: ignored
    text = scrub(
        "key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY; "
        "{'X-Amz-Security-Token': b'FQoGZXIvYXdzEJr'}; "
        "<SessionToken>abc</SessionToken> "
        '{"password": "hunter2"} aws_secret_access_key=abc '
        "Authorization: Bearer ya29.a0AfH6SMBexample "
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlc2ln"
    )
    for secret in (
        "wJalrXUtnFEMI",
        "FQoGZXIvYXdzEJr",
        "<SessionToken>abc",
        "hunter2",
        "=abc",
        "ya29",
        "eyJhbGci",
    ):
        assert secret not in text
    assert "short" in scrub("a short word")
    # error codes keep their words
    assert scrub("ExpiredToken: the token has expired") == "ExpiredToken: the token has expired"


# ----------------------------------------------------------------------------------------------
# private files


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_write_private_is_0600_and_atomic(tmp_path: Path) -> None:
    target = tmp_path / "new-dir" / "token.json"
    old = os.umask(0)
    try:
        write_private(target, '{"token": "t"}')
    finally:
        os.umask(old)
    assert target.read_text() == '{"token": "t"}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    write_private(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["token.json"]  # no temp left


# ----------------------------------------------------------------------------------------------
# pooled clients


class _Client:
    def __init__(self, log: list[str], name: str) -> None:
        self.name = name
        self.log = log
        self.closed = False

    async def close(self) -> None:
        self.closed = True
        self.log.append(f"closed {self.name}")


def _maker(log: list[str], name: str) -> Any:
    async def make(stack: contextlib.AsyncExitStack) -> _Client:
        log.append(f"made {name}")
        client = _Client(log, name)
        stack.push_async_callback(client.close)
        return client

    return make


def test_clients_are_shared_per_key_and_closed_with_their_loop() -> None:
    cache: ClientCache[_Client] = ClientCache("test", max_idle=1)
    log: list[str] = []

    async def main() -> _Client:
        a, b = await asyncio.gather(
            cache.acquire("k", _maker(log, "a")), cache.acquire("k", _maker(log, "b"))
        )
        assert a.client is b.client and log == ["made a"]  # concurrent opens: one client
        c = await cache.acquire("other", _maker(log, "c"))
        assert a.valid() and c.client is not a.client
        client_c = c.client
        a.release()
        b.release()
        a.release()  # idempotent
        c.release()  # two idle now, max_idle=1: the oldest ("a") is closed
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        again = await cache.acquire("other", _maker(log, "d"))
        assert again.client is client_c  # the idle one was kept for the next open
        return client_c

    first = asyncio.run(main())
    assert log == ["made a", "made c", "closed a", "closed c"]  # the loop's end closed "c"
    assert first.closed and len(cache) == 0

    async def other_loop() -> None:
        lease = await cache.acquire("other", _maker(log, "e"))
        assert lease.client is not first  # a new loop gets a new client

    asyncio.run(other_loop())
    assert log[-2:] == ["made e", "closed e"]


def test_a_client_not_kept_idle_is_closed_with_its_last_lease() -> None:
    cache: ClientCache[_Client] = ClientCache("test", max_idle=4)
    log: list[str] = []

    async def main() -> None:
        a = await cache.acquire("mine", _maker(log, "a"), keep_idle=False)
        b = await cache.acquire("mine", _maker(log, "b"), keep_idle=False)
        kept = await cache.acquire("shared", _maker(log, "k"))
        assert a.client is b.client and log == ["made a", "made k"]
        a.release()
        await asyncio.sleep(0)
        assert log == ["made a", "made k"]  # still in use
        b.release()
        kept.release()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert log == ["made a", "made k", "closed a"] and len(cache) == 1  # "k" kept idle
        again = await cache.acquire("mine", _maker(log, "c"), keep_idle=False)
        assert log[-1] == "made c"
        again.release()

    asyncio.run(main())


def test_a_lease_is_invalid_on_another_loop() -> None:
    cache: ClientCache[_Client] = ClientCache("test")
    log: list[str] = []

    async def get() -> Any:
        return await cache.acquire("k", _maker(log, "a"))

    lease = asyncio.run(get())

    async def check() -> bool:
        return lease.valid()

    assert not asyncio.run(check())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_uses_or_closes_inherited_clients() -> None:
    cache: ClientCache[_Client] = ClientCache("test")
    log: list[str] = []

    async def main() -> None:
        lease = await cache.acquire("k", _maker(log, "parent"))
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                os.close(read)
                ok = not lease.valid() and len(cache) == 0

                async def child() -> bool:
                    mine = await cache.acquire("k", _maker(log, "child"))
                    return mine.client is not lease.client and not lease.client.closed

                ok = ok and asyncio.new_event_loop().run_until_complete(child())
                code = 0 if ok else 1
            finally:
                os._exit(code)
        os.close(write)
        os.close(read)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert lease.valid() and not lease.client.closed
        lease.release()

    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads (the test session has
        # some); the child here only runs this test's code.
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.run(main())
    assert log == ["made parent", "closed parent"]
