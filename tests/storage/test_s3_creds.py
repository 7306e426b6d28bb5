"""s3:// credentials against a real SeaweedFS on loopback: every credential option works with
the right credentials and fails clearly with wrong ones; secrets stay out of reprs and logs.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shoal.auth import aws
from shoal.errors import CredentialsError, InvalidCredsError
from shoal.storage._s3 import open_storage
from tests.servers.aws_meta import FakeAwsMeta
from tests.servers.s3_fixtures import ROLE_RO, ROLE_RW, ROLE_WEB, AwsFiles, S3Server

from .s3_support import OpenS3, _clean, _roundtrip

# ----------------------------------------------------------------------------------------------
# credentials: every option works with the right credentials and fails clearly with wrong ones


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
