"""Refreshable AWS credentials whose refresh windows fit their lifetime.

botocore refreshes temporary credentials in fixed windows (start 15 minutes before expiry,
block every request in the last 10): a 15-minute STS credential would be fetched again on every
request. :class:`AdaptiveRefreshableCredentials` starts a refresh once half the lifetime has
passed (at most 15 minutes before expiry); in the last quarter (at most 10 minutes) every
request waits for it. One request refreshes (single flight), the others keep signing with the
current credentials or wait on the same lock.

It is shoal's own class, not a subclass of botocore's: aiobotocore only asks credentials for
``await get_frozen_credentials()``, ``get_account_id()`` and ``get_deferred_property()`` (the
public interface of botocore's ``Credentials``), which is all it implements, so no private
botocore method is overridden. The one place private botocore state is read is
:func:`adapt`, which takes over refreshable credentials found by botocore's default chain
(container, instance metadata, assume-role, web identity): their fetch function and current
values live in the attributes named by :data:`BOTOCORE_PRIVATE_NAMES` (stable since 2015;
``tests/storage/test_aws_internals.py`` fails loudly, naming the attribute, if one moves).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from botocore.credentials import ReadOnlyCredentials  # type: ignore[import-untyped]
from botocore.exceptions import CredentialRetrievalError  # type: ignore[import-untyped]

from .._secrets import remember_secret
from .aws_spec import StaleCredentialsError

__all__ = [
    "BOTOCORE_PRIVATE_NAMES",
    "AdaptiveRefreshableCredentials",
    "StaleCredentialsError",
    "adapt",
]

log = logging.getLogger("shoal.auth.aws")

ADVISORY_MAX = 15 * 60.0  # botocore's windows, for credentials that live an hour or more
MANDATORY_MAX = 10 * 60.0

#: Attributes of botocore's ``RefreshableCredentials`` that :func:`adapt` reads: the fetch
#: function, the current credentials and their expiry.
BOTOCORE_PRIVATE_NAMES = ("_refresh_using", "_frozen_credentials", "_expiry_time")

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _expiry(value: object, method: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        when = value
    else:
        try:
            when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise CredentialRetrievalError(
                provider=method, error_msg=f"unreadable expiry time {str(value)[:40]!r}"
            ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


class AdaptiveRefreshableCredentials:
    """Credentials from ``refresh_using`` (``async () -> {"access_key", "secret_key",
    "token", "expiry_time", ["account_id"]}``), refreshed before they expire.

    ``initial``: credentials already fetched (else the first use fetches). ``clock``: the
    current time as an aware datetime (tests pass a fake one).
    """

    def __init__(
        self,
        refresh_using: Callable[[], Any],
        method: str,
        initial: Mapping[str, Any] | None = None,
        *,
        clock: Clock = _utcnow,
    ) -> None:
        self.method = method
        self.refresh_count = 0
        self._fetch = refresh_using
        self._clock = clock
        self._frozen: ReadOnlyCredentials | None = None
        self._account_id: str | None = None
        self._expires: dt.datetime | None = None
        self._published_at: dt.datetime | None = None
        self._advisory = ADVISORY_MAX
        self._mandatory = MANDATORY_MAX
        self._lock = asyncio.Lock()
        if initial is not None:
            self._publish(initial, check=False)
            self.refresh_count = 0

    def __repr__(self) -> str:
        return f"AdaptiveRefreshableCredentials(method={self.method!r})"

    # -- state -------------------------------------------------------------------------------
    def _publish(self, data: Mapping[str, Any], *, check: bool = True) -> None:
        # botocore's shape: every key present, the token may be None (keys with an expiry)
        missing = [k for k in ("access_key", "secret_key", "expiry_time") if not data.get(k)]
        missing += [] if "token" in data else ["token"]
        if missing:
            raise CredentialRetrievalError(
                provider=self.method,
                error_msg=f"the credentials fetched have no {', '.join(missing)}",
            )
        now = self._clock()
        expires = _expiry(data["expiry_time"], self.method)
        token = str(data["token"]) if data.get("token") else None
        remember_secret(str(data["secret_key"]))
        remember_secret(token)
        if check and expires <= now:
            raise StaleCredentialsError(f"{self.method} credentials expired at {expires}")
        account = data.get("account_id")
        self._frozen = ReadOnlyCredentials(
            str(data["access_key"]), str(data["secret_key"]), token, account
        )
        self._account_id = str(account) if account else None
        self._expires = expires
        self._published_at = now
        self.refresh_count += 1
        lifetime = max(0.0, (expires - now).total_seconds())
        self._advisory = min(ADVISORY_MAX, lifetime / 2)
        self._mandatory = min(MANDATORY_MAX, lifetime / 4)

    def refresh_needed(self, refresh_in: float | None = None) -> bool:
        """Whether less than ``refresh_in`` seconds (default: the advisory window) are left."""
        if self._frozen is None or self._expires is None:
            return True
        window = self._advisory if refresh_in is None else refresh_in
        return (self._expires - self._clock()).total_seconds() < window

    # -- what aiobotocore calls ---------------------------------------------------------------
    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        await self._refresh()
        assert self._frozen is not None
        return self._frozen

    async def get_account_id(self) -> str | None:
        await self._refresh()
        return self._account_id

    @property
    def account_id(self) -> str | None:
        return self._account_id

    def get_deferred_property(self, name: str) -> Callable[[], Any]:
        """botocore's hook for endpoint rules that want the account id (aiobotocore then
        swaps in :meth:`get_account_id`)."""
        return lambda: getattr(self, name, None)

    # -- refreshing --------------------------------------------------------------------------
    async def _refresh(self) -> None:
        if not self.refresh_needed():
            return
        if not self._lock.locked():
            async with self._lock:
                if self.refresh_needed():
                    await self._refresh_now(mandatory=self.refresh_needed(self._mandatory))
        elif self.refresh_needed(self._mandatory):
            async with self._lock:  # inside the last stretch: wait for the refresh under way
                if self.refresh_needed(self._mandatory):
                    await self._refresh_now(mandatory=True)

    async def _refresh_now(self, *, mandatory: bool) -> None:
        try:
            data = self._fetch()
            if inspect.isawaitable(data):
                data = await data
        except Exception:
            if mandatory or self._frozen is None:
                raise
            # advisory window: the current credentials are still good, try again later
            log.warning("refreshing %s credentials failed; using the current ones", self.method)
            return
        self._publish(data)

    async def force_refresh(self, older_than: float = 1.0) -> bool:
        """Refresh now unless someone did in the last ``older_than`` seconds (single flight).

        Called when the store rejects credentials that should still be valid (clock skew, an
        early revocation). Returns whether credentials were fetched.
        """
        async with self._lock:
            published = self._published_at
            if published is not None and (self._clock() - published).total_seconds() < older_than:
                return False
            await self._refresh_now(mandatory=True)
            return True


def adapt(creds: Any, refreshable_type: type) -> Any:
    """Wrap refreshable chain credentials (instances of ``refreshable_type``) so their refresh
    windows fit their lifetime; anything else is returned as it is."""
    if not isinstance(creds, refreshable_type):
        return creds  # static keys: nothing to refresh
    fetch_name, frozen_name, expiry_name = BOTOCORE_PRIVATE_NAMES
    refresh_using = getattr(creds, fetch_name, None)
    if refresh_using is None:  # pragma: no cover - a botocore we do not know
        return creds
    initial = None
    # Non-deferred credentials (container, IMDS, env with expiry) were fetched when the chain
    # resolved them: carry them over instead of fetching twice. If botocore stops keeping them
    # there, the first use simply fetches.
    frozen = getattr(creds, frozen_name, None)
    expiry = getattr(creds, expiry_name, None)
    if frozen is not None and expiry is not None:
        initial = {
            "access_key": frozen.access_key,
            "secret_key": frozen.secret_key,
            "token": frozen.token,
            "expiry_time": expiry,
            "account_id": getattr(frozen, "account_id", None),
        }
    method = str(getattr(creds, "method", "refreshable"))
    return AdaptiveRefreshableCredentials(refresh_using, method, initial)
