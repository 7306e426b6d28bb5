"""The s3:// provider against a real SeaweedFS on loopback: conformance, every credential option
(right and wrong), refresh and rotation, retries, timeouts, bad input, secrets, datasets."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from shoal import routing
from shoal.auth import aws
from shoal.errors import (
    BucketNotFoundError,
    CredentialsError,
    InvalidCredsError,
    NotFoundError,
    PathError,
    StorageConnectionError,
    StorageError,
)
from shoal.storage import Storage
from shoal.storage._s3 import S3Options, S3Storage, open_storage
from tests.servers.aws_meta import FakeAwsMeta
from tests.servers.faults import FaultProxy
from tests.servers.s3_fixtures import (
    ROLE_RO,
    ROLE_RW,
    ROLE_WEB,
    AwsFiles,
    S3Server,
)
from tests.servers.seaweedfs import free_port

from .conformance import StorageConformance

MiB = 1 << 20
FAST = S3Options(max_attempts=3, backoff_base=0.01, connect_timeout=2, request_timeout=20)


def _prefix() -> str:
    return f"t/{uuid.uuid4().hex[:12]}"


OpenS3 = Callable[..., Awaitable[S3Storage]]


@pytest.fixture
async def open_s3(s3_server: S3Server) -> AsyncIterator[OpenS3]:
    """``await open_s3(creds=..., prefix=..., options=...)``: providers closed at teardown."""
    opened: list[S3Storage] = []

    async def make(
        creds: Any = "admin",
        *,
        prefix: str | None = None,
        bucket: str | None = None,
        read_only: bool = False,
        options: S3Options | None = None,
        **kwargs: Any,
    ) -> S3Storage:
        if creds == "admin":
            creds = s3_server.creds()
        store = await S3Storage.open(
            bucket or s3_server.bucket,
            prefix if prefix is not None else _prefix(),
            creds=creds,
            read_only=read_only,
            options=options or FAST,
            **kwargs,
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


def _clean(err: BaseException, *secrets: str | None) -> str:
    """The message, asserting no secret is in it (nor in its cause chain)."""
    text = str(err)
    chain: BaseException | None = err
    while chain is not None:
        for secret in secrets:
            if secret:
                assert secret not in str(chain), f"secret leaked into {type(chain).__name__}"
        chain = chain.__cause__ or chain.__context__
    return text


# ----------------------------------------------------------------------------------------------
# conformance


class TestS3Conformance(StorageConformance):
    @pytest.fixture
    async def store(self, open_s3: OpenS3) -> Storage:
        return await open_s3()

    @pytest.fixture
    async def read_only_store(self, open_s3: OpenS3) -> Storage:
        return await open_s3(read_only=True)


# ----------------------------------------------------------------------------------------------
# provider behaviour: multipart, coalescing, retries, timeouts, pools


def _proxy_opts(**kw: Any) -> S3Options:
    base: dict[str, Any] = {
        "max_attempts": 4,
        "backoff_base": 0.01,
        "connect_timeout": 2,
        "request_timeout": 20,
    }
    base.update(kw)
    return S3Options(**base)


async def test_multipart_roundtrip_no_leftover_uploads(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    opts = _proxy_opts(multipart_threshold=8 * MiB, part_size=5 * MiB)
    store = await open_s3(s3_server.creds(endpoint_url=fault_proxy.url), options=opts)
    data = bytearray(os.urandom(12 * MiB + 123))
    await store.put("big.bin", data)
    assert await store.get("big.bin") == bytes(data)
    methods = fault_proxy.requests
    assert methods >= 5  # create + 3 parts + complete (+ the get)
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket)
    assert not [u for u in uploads.get("Uploads", []) if u["Key"].startswith(store.prefix)]


async def test_multipart_failure_aborts_the_upload(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    opts = _proxy_opts(multipart_threshold=8 * MiB, part_size=5 * MiB, max_attempts=2)
    store = await open_s3(s3_server.creds(endpoint_url=fault_proxy.url), options=opts)
    fault_proxy.inject("internal", times=100, method="PUT", contains="partNumber=2")
    with pytest.raises(StorageError, match="after 2 attempts"):
        await store.put("broken.bin", os.urandom(12 * MiB))
    assert not await store.exists("broken.bin")
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket)
    assert not [u for u in uploads.get("Uploads", []) if u["Key"].startswith(store.prefix)]


async def test_cancelled_multipart_upload_is_aborted(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    opts = _proxy_opts(multipart_threshold=8 * MiB, part_size=5 * MiB, parts_in_flight=1)
    store = await open_s3(s3_server.creds(endpoint_url=fault_proxy.url), options=opts)
    fault_proxy.inject("lag", times=10, method="PUT", contains="partNumber", delay=1.0)
    task = asyncio.create_task(store.put("cancelled.bin", os.urandom(16 * MiB)))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket)
    assert not [u for u in uploads.get("Uploads", []) if u["Key"].startswith(store.prefix)]
    assert not await store.exists("cancelled.bin")
    # the provider is still usable after a cancellation
    await store.put("after", b"ok")
    assert await store.get("after") == b"ok"


async def test_get_ranges_coalesces_neighbours(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url),
        options=_proxy_opts(coalesce_gap=4096, coalesce_max=MiB),
    )
    data = os.urandom(4 * MiB)
    await store.put("chunk", data)
    near = [(i * 2048, i * 2048 + 1024) for i in range(200)]  # 1 KiB gaps: one GET
    fault_proxy.clear()
    got = await store.get_ranges("chunk", near[::-1])  # any order in, same order out
    assert got == [data[s:e] for s, e in near[::-1]]
    assert fault_proxy.requests == 1
    far = [(0, 10), (2 * MiB, 2 * MiB + 10), (5, 20), (4 * MiB - 3, 4 * MiB + 100), (7, 7)]
    fault_proxy.clear()
    got = await store.get_ranges("chunk", far)
    assert got == [data[s:e] for s, e in far]
    assert fault_proxy.requests == 3  # (0,10)+(5,20) merged, 2 MiB, the tail; (7,7) is free
    spread = [(i * MiB // 4, i * MiB // 4 + 100) for i in range(16)]  # gaps > coalesce_gap
    fault_proxy.clear()
    assert await store.get_ranges("chunk", spread) == [data[s:e] for s, e in spread]
    assert fault_proxy.requests == 16
    with pytest.raises(NotFoundError):
        await store.get_ranges("missing", near)


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("slowdown", "GET"),
        ("throttle", "PUT"),
        ("internal", "GET"),
        ("reset", "GET"),
        ("truncate", "GET"),
        ("reset", "PUT"),
    ],
)
async def test_transient_failures_are_retried(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy, kind: Any, method: str
) -> None:
    store = await open_s3(s3_server.creds(endpoint_url=fault_proxy.url), options=_proxy_opts())
    payload = os.urandom(300_000)
    await store.put("obj", payload)
    fault_proxy.inject(kind, times=2, method=method)
    if method == "PUT":
        await store.put("obj", payload[::-1])
        payload = payload[::-1]
    assert await store.get("obj") == payload
    assert fault_proxy.injected[kind] == 2


async def test_persistent_throttling_gives_up_with_a_clear_error(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url), options=_proxy_opts(max_attempts=3)
    )
    fault_proxy.inject("slowdown", times=100, method="GET")
    with pytest.raises(StorageError) as info:
        await store.get("obj")
    assert "SlowDown" in str(info.value) and "after 3 attempts" in str(info.value)
    assert store.url in str(info.value)
    assert fault_proxy.injected["slowdown"] == 3


async def test_every_request_has_a_timeout(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url),
        options=_proxy_opts(request_timeout=0.3, max_attempts=2),
    )
    fault_proxy.inject("stall", times=2, method="GET", delay=3.0)
    t0 = time.monotonic()
    with pytest.raises(StorageConnectionError, match="timed out"):
        await store.get("anything")
    assert time.monotonic() - t0 < 2.0


async def test_concurrency_is_bounded_and_connections_reused(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url), options=_proxy_opts(concurrency=4)
    )
    await store.put_many({f"k{i}": bytes([i]) * 1000 for i in range(40)})
    fault_proxy.clear()
    fault_proxy.inject("lag", times=40, method="GET", delay=0.02)
    got = await store.get_many([f"k{i}" for i in range(40)])
    assert got == [bytes([i]) * 1000 for i in range(40)]
    assert fault_proxy.max_in_flight <= 4
    assert len(fault_proxy.connections) <= 4  # one pool, reused
    pool = set(fault_proxy.connections)
    fault_proxy.clear()
    for i in range(20):
        await store.get(f"k{i}")
    assert fault_proxy.connections <= pool  # no new connection: the pool's are reused


async def test_cancelled_reads_release_their_connections(
    open_s3: OpenS3, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    store = await open_s3(
        s3_server.creds(endpoint_url=fault_proxy.url), options=_proxy_opts(concurrency=2)
    )
    await store.put("k", b"v" * 1000)
    fault_proxy.inject("lag", times=2, method="GET", delay=5.0)
    tasks = [asyncio.create_task(store.get("k")) for _ in range(10)]
    await asyncio.sleep(0.3)
    for t in tasks:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    # neither the semaphore slots nor the pool's connections leaked: reads go on at once
    async with asyncio.timeout(5):
        assert await store.get_many(["k"] * 6) == [b"v" * 1000] * 6


async def test_a_forked_child_gets_its_own_pool(
    open_s3: OpenS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_s3()
    await store.put("k", b"v")
    parent_client, parent_stack = store._client, store._stack
    real_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)  # as seen from a forked child
    assert await store.get("k") == b"v"
    assert store._client is not parent_client  # never reuse an inherited pool
    await store.close()  # the child closes its own pool ...
    monkeypatch.undo()
    assert parent_stack is not None
    await parent_stack.aclose()  # ... and the parent its own


async def test_list_pages_and_delete_prefix(open_s3: OpenS3) -> None:
    store = await open_s3(options=S3Options(list_page=7, max_attempts=2))
    keys = {f"d/{i:03d}": b"x" for i in range(30)} | {"e/1": b"y", "d2": b"z"}
    await store.put_many(keys)
    assert await store.list("d/") == sorted(k for k in keys if k.startswith("d/"))
    assert await store.list() == sorted(keys)
    await store.delete_prefix("d/")
    assert await store.list() == ["d2", "e/1"]


async def test_closed_provider_is_unusable(open_s3: OpenS3) -> None:
    store = await open_s3()
    await store.put("k", b"v")
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        await store.get("k")


async def test_invalid_keys_and_ranges(open_s3: OpenS3) -> None:
    store = await open_s3()
    for key in ("", "/abs", "a/../b"):
        with pytest.raises(PathError):
            await store.get(key)
    await store.put("r", b"0123456789")
    assert await store.get_range("r", 5, 5) == b""
    assert await store.get_range("r", 20, None) == b""  # past the end: a short read
    assert await store.get_range("r", 8, 100) == b"89"
    arr = np.arange(24, dtype=np.int32).reshape(2, 3, 4)  # any contiguous buffer is accepted
    await store.put("np", memoryview(arr.data))
    assert await store.get("np") == arr.tobytes()
    await store.put("ba", bytearray(b"xyz"))
    assert await store.get("ba") == b"xyz"


# ----------------------------------------------------------------------------------------------
# credentials: every option works with the right credentials and fails clearly with wrong ones


async def _roundtrip(store: S3Storage, write: bool = True) -> None:
    key = f"probe-{uuid.uuid4().hex[:6]}"
    if write:
        await store.put(key, b"hello s3")
        assert await store.get_range(key, 6, None) == b"s3"
        assert key in await store.list()
    else:
        await store.list()


async def test_explicit_dict(open_s3: OpenS3, s3_server: S3Server) -> None:
    store = await open_s3(s3_server.creds(s3_server.writer, aws_region="us-east-1"))
    await _roundtrip(store)
    assert store.credential_source.startswith("the creds dict")
    assert "AKID…TER0" in store.credential_source  # masked key id


async def test_explicit_dict_wrong_secret(open_s3: OpenS3, s3_server: S3Server) -> None:
    wrong = "not-the-right-secret-000000000000"
    store = await open_s3(s3_server.creds(aws_secret_access_key=wrong))
    with pytest.raises(CredentialsError) as info:
        await store.get("anything")
    text = _clean(info.value, wrong, s3_server.admin.secret_key)
    assert isinstance(info.value, PermissionError)
    assert "secret key" in text and "creds dict" in text and store.url in text


async def test_explicit_dict_unknown_key_id(open_s3: OpenS3, s3_server: S3Server) -> None:
    store = await open_s3(s3_server.creds(aws_access_key_id="AKIDNOSUCHKEY000"))
    with pytest.raises(CredentialsError, match="does not know the access key"):
        await store.put("k", b"v")


async def test_explicit_dict_with_session_token(open_s3: OpenS3, s3_server: S3Server) -> None:
    c = s3_server.vend(ROLE_RW, duration=900)
    creds = s3_server.creds(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["Token"],
    )
    await _roundtrip(await open_s3(creds))
    # the same keys with a tampered token are refused, and the message shows neither
    creds["aws_session_token"] = c["Token"][:-8] + "AAAAAAAA"
    store = await open_s3(creds)
    with pytest.raises(CredentialsError) as info:
        await store.get("k")
    _clean(info.value, c["SecretAccessKey"], c["Token"], creds["aws_session_token"])


@pytest.mark.parametrize(
    ("creds", "message"),
    [
        ({"AWS_ACCESS_KEY_ID": "x"}, "keys are lowercase: did you mean 'aws_access_key_id'"),
        ({"aws_acces_key_id": "x"}, "did you mean 'aws_access_key_id'"),
        ({"token": "x"}, "unknown creds key 'token'"),
        ({"aws_access_key_id": "x"}, "no aws_secret_access_key"),
        ({"aws_session_token": "x"}, "session token only works with the keys"),
        ({"aws_region": "eu-west-1", "region": "us-east-1"}, "two regions"),
        ({"endpoint_url": "localhost:9000"}, "must be an http:// or https:// URL"),
        ({"endpoint_url": "http://u:hunter2@127.0.0.1:1"}, "without credentials in it"),
        ({"aws_access_key_id": 1, "aws_secret_access_key": "y"}, "must be a str"),
        ("some-string", "must be a dict"),
    ],
)
async def test_malformed_creds_name_the_key(creds: Any, message: str) -> None:
    with pytest.raises(InvalidCredsError) as info:
        await open_storage("shoal-data/x", creds=creds)
    text = str(info.value)
    assert message in text and "s3://shoal-data/x" in text
    assert "hunter2" not in text
    assert isinstance(info.value, ValueError)
    if "unknown" in text or "did you mean" in text:
        assert "accepted keys: aws_access_key_id, aws_secret_access_key" in text


async def test_creds_region_alias_and_env_string(open_s3: OpenS3, s3_server: S3Server) -> None:
    store = await open_s3(s3_server.creds(region="eu-central-1"))
    await _roundtrip(store)
    assert aws.AwsCredsSpec.parse("ENV", path="p") == aws.AwsCredsSpec()


async def test_env_vars(
    open_s3: OpenS3, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.writer.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.writer.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)  # endpoint from the env too
    store = await open_s3(None)
    await _roundtrip(store)
    assert "environment variables" in store.credential_source


async def test_env_vars_with_session_token_and_expiration(
    open_s3: OpenS3, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = s3_server.vend(ROLE_RW, duration=900)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", c["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", c["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", c["Token"])
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", c["Expiration"].isoformat())
    store = await open_s3({"endpoint_url": s3_server.endpoint})
    await _roundtrip(store)
    assert isinstance(store.credentials, aws.AdaptiveRefreshableCredentials)


async def test_env_vars_wrong_secret(
    open_s3: OpenS3, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-env-secret-0000000000000000"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.writer.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    store = await open_s3({"endpoint_url": s3_server.endpoint})
    with pytest.raises(CredentialsError) as info:
        await store.list()
    text = _clean(info.value, wrong)
    assert "environment variables AWS_ACCESS_KEY_ID" in text


async def test_no_credentials_anywhere(open_s3: OpenS3, s3_server: S3Server) -> None:
    with pytest.raises(CredentialsError) as info:
        await open_s3({"endpoint_url": s3_server.endpoint})
    text = str(info.value)
    assert "no AWS credentials found" in text and "s3://shoal-data/" in text
    for tried in ("environment variables", "web identity", "container", "instance metadata"):
        assert tried in text
    assert "aws configure" in text


def _write_profiles(files: AwsFiles, s3_server: S3Server, wrong_secret: str) -> None:
    w = s3_server.writer
    files.credentials.write_text(
        f"[default]\naws_access_key_id = {w.access_key}\naws_secret_access_key = {w.secret_key}\n"
        f"[ds]\naws_access_key_id = {w.access_key}\naws_secret_access_key = {w.secret_key}\n"
        f"[broken]\naws_access_key_id = {w.access_key}\naws_secret_access_key = {wrong_secret}\n"
    )
    files.config.write_text(
        "[default]\nregion = us-east-1\nservices = local\n"
        "[profile ds]\nregion = us-east-1\nservices = local\n"
        "[profile broken]\nservices = local\n"
        "[profile dataset-role]\n"
        f"role_arn = {ROLE_RW}\nsource_profile = ds\nregion = us-east-1\nservices = local\n"
        "[profile bad-role]\n"
        "role_arn = arn:aws:iam::role/NoSuchRole\nsource_profile = ds\nregion = us-east-1\n"
        "services = local\n"
        f"[services local]\ns3 =\n  endpoint_url = {s3_server.endpoint}\n"
        f"sts =\n  endpoint_url = {s3_server.endpoint}\n"
    )


async def test_profiles_default_named_and_aws_profile(
    open_s3: OpenS3, s3_server: S3Server, aws_files: AwsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_profiles(aws_files, s3_server, "x" * 32)
    store = await open_s3(None)  # [default], endpoint from the profile's services block
    await _roundtrip(store)
    assert "profile 'default' of the shared credentials file" in store.credential_source
    store = await open_s3({"profile_name": "ds"})
    await _roundtrip(store)
    assert "profile 'ds'" in store.credential_source
    monkeypatch.setenv("AWS_PROFILE", "ds")
    store = await open_s3(None)
    await _roundtrip(store)
    assert "profile 'ds'" in store.credential_source


async def test_profile_missing_or_wrong(
    open_s3: OpenS3, s3_server: S3Server, aws_files: AwsFiles
) -> None:
    wrong = "wrong-profile-secret-000000000000"
    _write_profiles(aws_files, s3_server, wrong)
    with pytest.raises(CredentialsError, match="profile 'nope'.*does not exist.*aws configure"):
        await open_s3({"profile_name": "nope"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_PROFILE", "gone")
        with pytest.raises(CredentialsError, match="profile 'gone' \\(AWS_PROFILE"):
            await open_s3({"endpoint_url": s3_server.endpoint})
    store = await open_s3({"profile_name": "broken"})
    with pytest.raises(CredentialsError) as info:
        await store.get("k")
    text = _clean(info.value, wrong)
    assert "profile 'broken' of the shared credentials file" in text


async def test_assume_role_profile(
    open_s3: OpenS3, s3_server: S3Server, aws_files: AwsFiles
) -> None:
    _write_profiles(aws_files, s3_server, "x" * 32)
    store = await open_s3({"profile_name": "dataset-role"})
    await _roundtrip(store)
    assert "assume-role profile 'dataset-role'" in store.credential_source
    assert isinstance(store.credentials, aws.AdaptiveRefreshableCredentials)
    bad = await open_s3({"profile_name": "bad-role"})
    with pytest.raises(CredentialsError, match="could not get credentials.*assume-role"):
        await bad.get("k")


async def test_instance_metadata_imdsv2(
    open_s3: OpenS3, s3_server: S3Server, aws_meta: FakeAwsMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws_meta.url + "/")
    before = aws_meta.calls["imds-creds"]
    store = await open_s3({"endpoint_url": s3_server.endpoint})
    await _roundtrip(store)
    assert "instance metadata" in store.credential_source
    assert aws_meta.calls["imds-creds"] == before + 1
    assert isinstance(store.credentials, aws.AdaptiveRefreshableCredentials)


async def test_instance_metadata_with_a_read_only_role(
    open_s3: OpenS3, s3_server: S3Server, aws_meta: FakeAwsMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws_meta.url + "/")
    monkeypatch.setattr(aws_meta, "vend", lambda: s3_server.vend(ROLE_RO, duration=3600))
    store = await open_s3({"endpoint_url": s3_server.endpoint})
    await _roundtrip(store, write=False)  # reading is allowed
    with pytest.raises(CredentialsError) as info:
        await store.put("k", b"v")
    text = str(info.value)
    assert (
        "access denied" in text and "instance metadata" in text and "not allowed to write" in text
    )


async def test_container_credentials(
    open_s3: OpenS3,
    s3_server: S3Server,
    aws_meta: FakeAwsMeta,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", aws_meta.url + "/creds")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", aws_meta.container_auth)
    store = await open_s3({"endpoint_url": s3_server.endpoint})
    await _roundtrip(store)
    assert "container credentials" in store.credential_source
    # EKS Pod Identity style: the token in a file
    monkeypatch.delenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    (tmp_path / "token").write_text(aws_meta.container_auth)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(tmp_path / "token"))
    await _roundtrip(await open_s3({"endpoint_url": s3_server.endpoint}))


async def test_container_credentials_wrong_token(
    open_s3: OpenS3, s3_server: S3Server, aws_meta: FakeAwsMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", aws_meta.url + "/creds")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-container-token")
    with pytest.raises(CredentialsError) as info:  # botocore retries 3x with 1 s sleeps
        await open_s3({"endpoint_url": s3_server.endpoint})
    text = _clean(info.value, "wrong-container-token", aws_meta.container_auth)
    assert "could not get AWS credentials" in text and "container" in text.lower()


async def test_web_identity(
    open_s3: OpenS3,
    s3_server: S3Server,
    aws_meta: FakeAwsMeta,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    token_file = tmp_path / "web-identity-token"
    token_file.write_text(aws_meta.web_identity_token())
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE_WEB)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "shoal-ci")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s3_server.endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    store = await open_s3({"endpoint_url": s3_server.endpoint})
    await _roundtrip(store)
    assert "web identity" in store.credential_source
    # a token for another audience is refused by STS: a clear error at the first request
    wrong = aws_meta.web_identity_token(audience="someone-else")
    token_file.write_text(wrong)
    store = await open_s3({"endpoint_url": s3_server.endpoint})
    with pytest.raises(CredentialsError) as info:
        await store.get("k")
    text = _clean(info.value, wrong)
    assert "web identity (AWS_WEB_IDENTITY_TOKEN_FILE" in text and "audience" in text


async def test_bucket_scoped_permissions(open_s3: OpenS3, s3_server: S3Server) -> None:
    reader = await open_s3(s3_server.creds(s3_server.reader))
    await _roundtrip(reader, write=False)
    with pytest.raises(CredentialsError, match="not allowed to write"):
        await reader.put("k", b"v")
    writer_elsewhere = await open_s3(
        s3_server.creds(s3_server.writer), bucket=s3_server.other_bucket
    )
    with pytest.raises(CredentialsError, match="access denied"):
        await writer_elsewhere.get("k")


# ----------------------------------------------------------------------------------------------
# bad input: a specific error naming the path, the credential source and what to do; no hangs


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("s4://bucket/ds", "unknown path prefix s4://"),
        ("s3://", "has no location"),
        ("s3:///ds", "names no bucket"),
        ("s3://Bad_Bucket/ds", "invalid S3 bucket name 'Bad_Bucket'"),
        ("s3://ab/ds", "must be 3 to 63 characters"),
        ("s3://192.168.1.10/ds", "IP address"),
        ("s3://shoal-data/a//b", "empty, '.' or '..' path segment"),
        ("s3://shoal-data/a/../b", "empty, '.' or '..' path segment"),
        ("s3://user:hunter2hunter2@shoal-data/ds", "cannot carry credentials"),
    ],
)
async def test_malformed_paths(path: str, message: str) -> None:
    with pytest.raises(PathError) as info:
        await routing.open_storage(
            routing.parse(path), creds={"endpoint_url": "http://127.0.0.1:9"}
        )
    assert message in str(info.value)
    assert "hunter2" not in str(info.value)


async def test_bucket_that_does_not_exist(open_s3: OpenS3, s3_server: S3Server) -> None:
    store = await open_s3(bucket="shoal-no-such-bucket")
    for call in (store.get("k"), store.exists("k"), store.put("k", b"v"), store.list()):
        with pytest.raises(BucketNotFoundError) as info:
            await call
        text = str(info.value)
        assert (
            "'shoal-no-such-bucket' does not exist" in text and "s3://shoal-no-such-bucket" in text
        )
        assert "creds dict" in text and "create the bucket" in text
        assert not isinstance(info.value, FileNotFoundError)  # not "no dataset here"
    assert await store.get_many([]) == []


async def test_unreachable_endpoint_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = free_port()  # nothing listens there
    monkeypatch.setenv("SHOAL_S3_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("SHOAL_S3_CONNECT_TIMEOUT", "1")
    store = await routing.open_storage(
        routing.parse("s3://shoal-data/ds"),
        creds={
            "aws_access_key_id": "AKIDUNREACHABLE0",
            "aws_secret_access_key": "unreachable-secret-0000000000000",
            "endpoint_url": f"http://127.0.0.1:{closed}",
        },
    )
    try:
        t0 = time.monotonic()
        with pytest.raises(StorageConnectionError) as info:
            await store.get("dataset_meta.json")
        assert time.monotonic() - t0 < 3
        text = _clean(info.value, "unreachable-secret-0000000000000")
        assert f"127.0.0.1:{closed}" in text and "s3://shoal-data/ds/dataset_meta.json" in text
        assert "after 2 attempts" in text and "creds dict" in text and "endpoint_url" in text
        assert isinstance(info.value, ConnectionError)
    finally:
        await store.close()


# ----------------------------------------------------------------------------------------------
# refresh: before expiry, single flight, and a long job survives rotation


def _fake_creds(n: int, seconds: float) -> dict[str, Any]:
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return {
        "access_key": f"ASIAFAKE{n:08d}",
        "secret_key": f"fake-secret-{n:020d}",
        "token": f"fake-token-{n:020d}",
        "expiry_time": expiry.isoformat(),
    }


async def test_refresh_is_single_flight() -> None:
    calls = 0

    async def fetch() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        return _fake_creds(calls, 600)

    creds = aws.AdaptiveRefreshableCredentials(fetch, "shoal-vended")  # deferred: no fetch yet
    frozen = await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(50)))
    assert calls == 1 and {f.access_key for f in frozen} == {"ASIAFAKE00000001"}
    # 600 s credentials: botocore's fixed 15-minute window would refresh on every request
    assert not creds.refresh_needed()
    await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(50)))
    assert calls == 1


async def test_refresh_before_expiry_once_for_all_waiters() -> None:
    calls = 0

    async def fetch() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return _fake_creds(calls, 2.0)

    now = dt.datetime.now(dt.UTC)
    clock = {"now": now}
    creds = aws.AdaptiveRefreshableCredentials(
        fetch, "container-role", initial=_fake_creds(0, 2.0), clock=lambda: clock["now"]
    )
    assert calls == 0
    # inside the last quarter of the lifetime: everyone must wait (the clock moves, no sleep)
    clock["now"] = now + dt.timedelta(seconds=1.6)
    frozen = await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(30)))
    assert calls == 1
    assert {f.access_key for f in frozen} == {"ASIAFAKE00000001"}  # nobody used the old ones


async def test_long_upload_and_reads_survive_rotation(
    open_s3: OpenS3,
    s3_server: S3Server,
    aws_meta: FakeAwsMeta,
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Container credentials that live TOKEN_SECONDS (real SeaweedFS STS, really expiring);
    a multipart upload slowed down to outlast them, and reads all along."""
    first: dict[str, Any] = {}

    def vend_short() -> dict[str, Any]:
        c = s3_server.vend(ROLE_RW)  # no DurationSeconds: the server's short default
        first.setdefault("creds", c)
        return c

    monkeypatch.setattr(aws_meta, "vend", vend_short)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", aws_meta.url + "/creds")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", aws_meta.container_auth)
    before = aws_meta.calls["container"]
    opts = _proxy_opts(multipart_threshold=8 * MiB, part_size=5 * MiB, parts_in_flight=1)
    store = await open_s3({"endpoint_url": fault_proxy.url}, options=opts)
    await store.put("small", b"abc")
    data = os.urandom(15 * MiB)  # 3 parts, each answered 3 s late: about 9 s in all
    fault_proxy.inject("lag", times=3, method="PUT", contains="partNumber", delay=3.0)
    stop = asyncio.Event()

    async def reader() -> int:
        n = 0
        while not stop.is_set():
            results = await asyncio.gather(*(store.get("small") for _ in range(8)))
            assert results == [b"abc"] * 8
            n += 1
            await asyncio.sleep(0.2)
        return n

    reads = asyncio.create_task(reader())
    await store.put("big", data)
    stop.set()
    assert await reads > 10
    assert await store.get("big") == data
    expiry = first["creds"]["Expiration"]
    assert dt.datetime.now(dt.UTC) > expiry  # the first credentials expired during the job
    fetched = aws_meta.calls["container"] - before
    assert 2 <= fetched <= 5  # refreshed, but not per request (about 60 requests were made)
    # ... and really expired: with them alone the store now refuses us
    c = first["creds"]
    stale = await open_s3(
        s3_server.creds(
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["Token"],
        )
    )
    with pytest.raises(CredentialsError) as info:
        await stale.get("small")
    assert "temporary credentials may have expired" in _clean(info.value, c["Token"])


async def test_vended_credentials_refresher(open_s3: OpenS3, s3_server: S3Server) -> None:
    """The hook the platform uses: an async source of short-lived credentials."""
    calls = 0

    async def vend() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        c = await asyncio.to_thread(s3_server.vend, ROLE_RW, 900)
        return {
            "access_key": c["AccessKeyId"],
            "secret_key": c["SecretAccessKey"],
            "token": c["Token"],
            "expiry_time": c["Expiration"].isoformat(),
        }

    store = await open_s3({"endpoint_url": s3_server.endpoint}, refresh=vend)
    await _roundtrip(store)
    await _roundtrip(store)
    assert calls == 1
    assert "vended by the dataset platform" in store.credential_source


# ----------------------------------------------------------------------------------------------
# secrets stay out of reprs and logs


async def test_secrets_not_in_reprs_or_debug_logs(
    open_s3: OpenS3,
    s3_server: S3Server,
    aws_meta: FakeAwsMeta,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="botocore")
    caplog.set_level(logging.DEBUG, logger="aiobotocore")
    # explicit keys with a session token
    c = s3_server.vend(ROLE_RW, duration=900)
    creds = s3_server.creds(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["Token"],
    )
    caplog.clear()  # only what shoal's requests log counts, not the test's own STS call
    store = await open_s3(creds)
    await _roundtrip(store)
    spec = aws.AwsCredsSpec.parse(creds, path="p")
    # web identity: the token goes to STS, STS answers with a secret key and a session token
    token = aws_meta.web_identity_token()
    (tmp_path / "tok").write_text(token)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "tok"))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE_WEB)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s3_server.endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    web = await open_s3({"endpoint_url": s3_server.endpoint})
    await _roundtrip(web)
    web_frozen = await web.credentials.get_frozen_credentials()
    assert caplog.records, "botocore debug logging was not captured"
    texts = [caplog.text, repr(store), repr(spec), repr(web), repr(store._resolved)]
    texts += [store.credential_source, web.credential_source]
    for secret in (
        c["SecretAccessKey"],
        c["Token"],
        token,
        web_frozen.secret_key,
        web_frozen.token,
    ):
        for text in texts:
            assert secret not in text


# ----------------------------------------------------------------------------------------------
# datasets through the normal shoal API (needs the native extension)


def test_dataset_roundtrip_on_s3(s3_server: S3Server) -> None:
    import shoal

    path = f"s3://{s3_server.bucket}/datasets/{uuid.uuid4().hex[:8]}"
    creds = s3_server.creds()
    ds = shoal.empty(path, creds=creds)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("labels", htype="class_label")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1000, size=(50, 8, 8)).astype(np.int32)
    ds.x.extend(x)
    ds.labels.extend(np.arange(50) % 3)
    assert shoal.exists(path, creds=creds)
    ro = shoal.load(path, read_only=True, creds=s3_server.creds(s3_server.reader))
    assert len(ro) == 50
    np.testing.assert_array_equal(ro.x.numpy(), x)
    np.testing.assert_array_equal(ro.x[[3, 40, 7]].numpy(), x[[3, 40, 7]])
    with pytest.raises(CredentialsError, match="not allowed to write"):
        shoal.load(path, creds=s3_server.creds(s3_server.reader)).x.append(x[0])
    with pytest.raises(BucketNotFoundError):
        shoal.load("s3://shoal-no-such-bucket/ds", creds=creds)
    # no creds argument: the default chain (here the environment) and AWS_ENDPOINT_URL_S3
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", s3_server.reader.access_key)
        mp.setenv("AWS_SECRET_ACCESS_KEY", s3_server.reader.secret_key)
        mp.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
        np.testing.assert_array_equal(shoal.load(path, read_only=True).x[5].numpy(), x[5])
    shoal.delete(path, creds=creds)
    assert not shoal.exists(path, creds=creds)
