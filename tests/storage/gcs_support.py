"""Shared pieces of the gcs:// tests: fast retry options, unique locations, a round trip probe,
a secret-free text check and a token cache clock that moves only when told.
"""

from __future__ import annotations

import time
import uuid

from shoal.storage._gcs import GcsOptions, GcsStorage
from tests.servers.gcs_fixtures import BUCKET
from tests.servers.gcs_google import FakeGoogle, ServiceAccountKey

FAST = GcsOptions(max_attempts=2, timeout=5.0, backoff_base=0.01, backoff_max=0.05)


def _unique(name: str) -> str:
    return f"{BUCKET}/{name}-{uuid.uuid4().hex[:8]}"


async def _roundtrip(store: GcsStorage) -> None:
    await store.put("probe/x", b"hello world")
    assert await store.get_range("probe/x", 6, 11) == b"world"
    assert await store.list("probe/") == ["probe/x"]


def _assert_no_secrets(text: str, google: FakeGoogle, *more: str) -> None:
    """No access token, refresh token, client secret or key material in ``text``."""
    for tok in list(google.tokens):
        assert tok not in text
    for rt in list(google.refresh_tokens):
        assert rt not in text
    for secret in list(google.clients.values()) + [m for m in more if m]:
        assert secret not in text
    assert "PRIVATE KEY" not in text


class _Clock:
    """A token cache's clock that moves only when told: tests skip through token lifetimes
    instead of sleeping. Starts at ``time.monotonic()``, like the clock it replaces."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _key_secret(sa: ServiceAccountKey) -> str:
    """A distinctive slice of the private key's PEM body."""
    return sa.pem.splitlines()[5]
