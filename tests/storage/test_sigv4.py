"""shoal's own SigV4 signer against botocore's, and against a real S3 implementation."""

from __future__ import annotations

import datetime as dt

from botocore.auth import S3SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from shoal.storage import _sigv4

KEYS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1)


def _botocore(method, host, path, query, keys, region):  # type: ignore[no-untyped-def]
    """botocore's Authorization header, and the time it signed at."""
    creds = Credentials(keys.access_key, keys.secret_key, keys.token)
    req = AWSRequest(method=method, url=f"http://{host}{path}", params=query)
    req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(creds, "s3", region).add_auth(req)
    when = dt.datetime.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    return req.headers["Authorization"], when.replace(tzinfo=dt.UTC)


@given(
    key=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), min_size=1),
    token=st.one_of(st.none(), st.text(alphabet="abcXYZ019+/=", min_size=1)),
    query=st.dictionaries(st.sampled_from(["prefix", "list-type", "delimiter"]), KEYS, max_size=2),
)
def test_signatures_equal_botocores(key: str, token: str | None, query: dict[str, str]) -> None:
    keys = _sigv4.Keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    path = "/bucket/" + _sigv4.quote_path(key)
    theirs, when = _botocore("GET", "127.0.0.1:8333", path, query, keys, "us-east-1")
    ours = _sigv4.sign("GET", "127.0.0.1:8333", path, query, keys, "us-east-1", when)
    assert ours["Authorization"] == theirs


def test_repr_hides_the_secret() -> None:
    keys = _sigv4.Keys("AKIDEXAMPLE", "s3cr3t-value", "tok3n")
    assert "s3cr3t" not in repr(keys) and "tok3n" not in repr(keys)


@given(
    key=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), min_size=1),
    token=st.one_of(st.none(), st.text(alphabet="abcXYZ019+/=", min_size=1)),
    second=st.integers(min_value=1_600_000_000, max_value=2_000_000_000),
)
def test_the_get_signer_signs_as_sign_does(key: str, token: str | None, second: int) -> None:
    """The per-host signer of the read path (constant parts computed once) against the
    general one: the same header values, at any second."""
    keys = _sigv4.Keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    path = "/bucket/" + _sigv4.quote_path(key)
    signer = _sigv4.GetSigner(keys, "127.0.0.1:8333", "us-east-1")
    for now in (second, second + 0.5, second + 1):  # the same second again, then the next
        lines = signer.headers(path, now=now)
        assert lines.endswith("\r\n")
        got = dict(line.split(": ", 1) for line in lines[:-2].split("\r\n"))
        when = dt.datetime.fromtimestamp(int(now), dt.UTC)
        want = _sigv4.sign("GET", "127.0.0.1:8333", path, {}, keys, "us-east-1", when)
        assert got == want
