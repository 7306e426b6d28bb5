"""The botocore / aiobotocore internals shoal relies on are still where shoal reads them.

shoal.auth.aws_refresh takes over refreshable credentials found by botocore's default chain,
reading private attributes (BOTOCORE_PRIVATE_NAMES), and shoal's own credentials class must
offer everything aiobotocore calls on credentials. When an upgrade moves any of it, these
tests fail and say which name moved: fix aws_refresh.adapt, then the version bounds in
pyproject.toml.
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

import aiobotocore
import botocore
import pytest
from aiobotocore.credentials import (  # type: ignore[import-untyped]
    AioDeferredRefreshableCredentials,
    AioRefreshableCredentials,
)
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from shoal.auth import aws
from shoal.auth.aws_refresh import BOTOCORE_PRIVATE_NAMES, AdaptiveRefreshableCredentials, adapt

VERSIONS = f"aiobotocore {aiobotocore.__version__} / botocore {botocore.__version__}"


def _metadata(seconds: float = 3600) -> dict[str, Any]:
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return {
        "access_key": "ASIAINTERNALS0001",
        "secret_key": "internals-secret-000000000000000",
        "token": "internals-token-000000000000000",
        "expiry_time": expiry.isoformat(),
    }


async def _fetch() -> dict[str, Any]:
    return _metadata()


def test_private_attributes_adapt_reads_are_still_there() -> None:
    fetched = AioRefreshableCredentials.create_from_metadata(
        _metadata(), refresh_using=_fetch, method="container-role"
    )
    deferred = AioDeferredRefreshableCredentials(refresh_using=_fetch, method="assume-role")
    for creds in (fetched, deferred):
        for name in BOTOCORE_PRIVATE_NAMES:
            assert hasattr(creds, name), (
                f"{VERSIONS}: {type(creds).__name__} has no attribute {name!r} any more; "
                "shoal.auth.aws_refresh.adapt reads it to take over refreshable chain "
                "credentials. Find where it moved, update adapt, then the version bounds"
            )
    fetch_name, frozen_name, expiry_name = BOTOCORE_PRIVATE_NAMES
    assert getattr(fetched, fetch_name) is _fetch, f"{VERSIONS}: {fetch_name!r} changed meaning"
    frozen = getattr(fetched, frozen_name)
    assert frozen.access_key == "ASIAINTERNALS0001", f"{VERSIONS}: {frozen_name!r} changed"
    assert isinstance(getattr(fetched, expiry_name), dt.datetime), (
        f"{VERSIONS}: {expiry_name!r} is no longer a datetime"
    )


async def test_adapt_takes_over_fetched_credentials_without_fetching() -> None:
    calls = 0

    async def fetch() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return _metadata()

    chain = AioRefreshableCredentials.create_from_metadata(
        _metadata(), refresh_using=fetch, method="container-role"
    )
    ours = adapt(chain, AioRefreshableCredentials)
    assert isinstance(ours, AdaptiveRefreshableCredentials), f"{VERSIONS}: adapt gave up"
    frozen = await ours.get_frozen_credentials()
    assert frozen.access_key == "ASIAINTERNALS0001" and calls == 0
    assert ours.method == "container-role"


def test_our_credentials_offer_what_botocore_credentials_offer() -> None:
    """Everything public that aiobotocore may call on credentials exists on ours."""
    public = {
        name
        for name, member in inspect.getmembers(Credentials)
        if not name.startswith("_") and callable(member)
    }
    used_by_aiobotocore = {"get_frozen_credentials", "get_deferred_property"}
    assert used_by_aiobotocore <= public, f"{VERSIONS}: botocore's Credentials changed"
    missing = sorted(n for n in public if not hasattr(AdaptiveRefreshableCredentials, n))
    assert missing == [], (
        f"{VERSIONS}: botocore's Credentials now has {missing}, which "
        "shoal.auth.aws_refresh.AdaptiveRefreshableCredentials lacks; add them"
    )
    assert inspect.iscoroutinefunction(AdaptiveRefreshableCredentials.get_frozen_credentials)


@pytest.mark.parametrize("name", ["AioCredentialResolver", "AioCredentials"])
def test_public_aiobotocore_names_used(name: str) -> None:
    import aiobotocore.credentials as module

    assert hasattr(module, name), f"{VERSIONS}: aiobotocore.credentials.{name} is gone"
    assert hasattr(aws, "resolve")
