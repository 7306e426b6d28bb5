"""AWS credentials for the s3:// provider: every way users pass them, one resolver.

The four options of the Deep Lake storage docs, plus what people use in practice:

1. **IAM role on a cloud machine** (no keys anywhere): the default chain finds a web identity
   token (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``, EKS IRSA), container credentials
   (``AWS_CONTAINER_CREDENTIALS_FULL_URI``/``..._RELATIVE_URI``, ECS and EKS Pod Identity) or
   EC2 instance metadata (IMDSv2). All of them expire and are refreshed.
2. **``aws configure`` files**: the default profile, a named one (``creds={"profile_name":
   "x"}`` or ``AWS_PROFILE``), and assume-role profiles (``role_arn`` with ``source_profile``
   or ``credential_source``).
3. **Environment variables** ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
   ``AWS_SESSION_TOKEN`` (refreshable when ``AWS_CREDENTIAL_EXPIRATION`` is set).
4. **An explicit dict** with lowercase keys: ``aws_access_key_id``, ``aws_secret_access_key``,
   ``aws_session_token`` (optional), ``endpoint_url``, ``aws_region`` (alias ``region``) and
   ``profile_name``. Any other key is an :class:`~shoal.errors.InvalidCredsError`.

Refreshable credentials are refreshed *before* they expire by the first request that notices,
while the others keep signing with the current ones; inside the last stretch every request
waits for that one refresh (single flight). The refresh windows scale with the credential
lifetime: botocore's fixed 15/10-minute windows would refresh a 15-minute STS credential on
every request (see :mod:`shoal.auth.aws_refresh`).

Secrets never appear in a repr, an error message or a log record: :class:`AwsCredsSpec` masks
them, error messages name the *source* (``"environment variables AWS_ACCESS_KEY_ID/..."``) and
the access key id masked, and a log filter scrubs session tokens, secret keys and web identity
tokens from botocore's debug logs.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiobotocore.credentials import (  # type: ignore[import-untyped]
    AioCredentialResolver,
    AioCredentials,
    AioRefreshableCredentials,
)
from aiobotocore.session import AioSession  # type: ignore[import-untyped]
from botocore.credentials import CredentialProvider  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ProfileNotFound,
)

from .._secrets import remember_secret, scrub
from ..errors import CredentialsError
from .aws_refresh import AdaptiveRefreshableCredentials, StaleCredentialsError, adapt
from .aws_spec import (
    ACCEPTED_KEYS,
    AwsCredsSpec,
    ResolvedAws,
    explicit_source,
    install_log_redaction,
    mask_key_id,
)

__all__ = [
    "ACCEPTED_KEYS",
    "AdaptiveRefreshableCredentials",
    "AwsCredsSpec",
    "Refresher",
    "ResolvedAws",
    "StaleCredentialsError",
    "install_log_redaction",
    "mask_key_id",
    "resolve",
    "scrub",
]

#: ``async () -> {"access_key", "secret_key", "token", "expiry_time": iso8601}``: a source of
#: short-lived credentials (a platform that vends them), refreshed like any other.
Refresher = Callable[[], Awaitable[Mapping[str, Any]]]


# ----------------------------------------------------------------------------------------------
# what the user passed


class _FixedProvider(CredentialProvider):  # type: ignore[misc]
    """The only provider of a session once shoal has resolved its credentials."""

    METHOD = "shoal-resolved"
    CANONICAL_NAME = "customShoalResolved"

    def __init__(self, creds: Any) -> None:
        super().__init__()
        self._creds = creds

    async def load(self) -> Any:
        return self._creds


# ----------------------------------------------------------------------------------------------
# resolving


_loader: Any = None


def _new_session(profile: str | None) -> Any:
    global _loader
    session = AioSession(profile=profile)
    # Service models are large JSON files; parse them once per process, not per provider.
    if _loader is None:
        _loader = session.get_component("data_loader")
    else:
        session.register_component("data_loader", _loader)
    return session


def _config_paths() -> str:
    config = os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")
    shared = os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    return f"{config} and {shared}"


def describe_source(method: str | None, spec: AwsCredsSpec, session: Any) -> str:
    """Where credentials came from, in words, without secrets."""
    profile = spec.profile or os.environ.get("AWS_PROFILE") or "default"
    if method in (None, "explicit") and spec.has_keys:
        return explicit_source(spec)
    names = {
        "env": "environment variables AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
        + (" / AWS_SESSION_TOKEN" if os.environ.get("AWS_SESSION_TOKEN") else ""),
        "shared-credentials-file": f"profile {profile!r} of the shared credentials file "
        f"({os.environ.get('AWS_SHARED_CREDENTIALS_FILE', '~/.aws/credentials')})",
        "config-file": f"profile {profile!r} of the AWS config file "
        f"({os.environ.get('AWS_CONFIG_FILE', '~/.aws/config')})",
        "assume-role": f"assume-role profile {profile!r} ({_config_paths()})",
        "assume-role-with-web-identity": "web identity "
        + (
            "(AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN)"
            if os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
            else f"of profile {profile!r}"
        ),
        "container-role": "container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI "
        "/ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)",
        "iam-role": "the EC2 instance metadata service (IAM role of the machine)",
        "custom-process": f"credential_process of profile {profile!r}",
        "sso": f"AWS SSO profile {profile!r}",
        "login": f"aws login profile {profile!r}",
        "shoal-vended": "credentials vended by the dataset platform",
    }
    return names.get(method or "", f"AWS credential source {method!r}")


def _nothing_found(path: str, spec: AwsCredsSpec) -> CredentialsError:
    if spec.profile:
        tried = f"profile {spec.profile!r} in {_config_paths()}"
    else:
        imds = (
            "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"
            if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true"
            else "EC2 instance metadata"
        )
        tried = (
            "the creds argument (none given), environment variables AWS_ACCESS_KEY_ID / "
            f"AWS_SECRET_ACCESS_KEY, web identity (AWS_WEB_IDENTITY_TOKEN_FILE), profile "
            f"{os.environ.get('AWS_PROFILE', 'default')!r} in {_config_paths()}, container "
            f"credentials, {imds}"
        )
    return CredentialsError(
        f"no AWS credentials found for {path}; tried {tried}. Pass creds={{'aws_access_key_id': "
        "..., 'aws_secret_access_key': ...}, set AWS_PROFILE or the AWS_* environment "
        "variables, run `aws configure`, or run on a machine with an IAM role"
    )


async def resolve(
    spec: AwsCredsSpec, *, path: str, refresh: Refresher | None = None
) -> ResolvedAws:
    """Resolve ``spec`` to signing credentials. Raises :class:`CredentialsError` with the
    sources tried when none are found or a source fails."""
    try:
        session = _new_session(spec.profile)
        if spec.profile:
            session.get_scoped_config()  # raises ProfileNotFound early, with a clear message
        configured_region = session.get_config_variable("region")
    except ProfileNotFound:
        name = (
            spec.profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        )
        origin = "creds['profile_name']" if spec.profile else "AWS_PROFILE"
        raise CredentialsError(
            f"AWS profile {name!r} ({origin} for {path}) does not exist in {_config_paths()}; "
            f"run `aws configure --profile {name}` or fix the name"
        ) from None
    region = spec.region or configured_region or "us-east-1"
    if refresh is not None:
        creds: Any = AdaptiveRefreshableCredentials(refresh, "shoal-vended")
    elif spec.has_keys:
        creds = AioCredentials(
            spec.access_key_id,
            spec.secret_access_key,
            spec.session_token,  # only if the caller gave one: never a stray env token
            method="explicit",
        )
        remember_secret(spec.secret_access_key)
        remember_secret(spec.session_token)
    else:
        resolver = session.get_component("credential_provider")
        try:
            creds = await resolver.load_credentials()
        except BotoCoreError as exc:
            raise CredentialsError(
                f"could not get AWS credentials for {path}: {scrub(str(exc))}. Check the "
                f"profile / environment configuration ({_config_paths()}), or pass creds="
                "{'aws_access_key_id': ..., 'aws_secret_access_key': ...}"
            ) from None
        if creds is None:
            raise _nothing_found(path, spec)
        creds = adapt(creds, AioRefreshableCredentials)
    source = describe_source(getattr(creds, "method", None), spec, session)
    session.register_component(
        "credential_provider", AioCredentialResolver([_FixedProvider(creds)])
    )
    return ResolvedAws(
        session=session,
        credentials=creds,
        source=source,
        region=region,
        endpoint_url=spec.endpoint_url,
        refreshable=isinstance(creds, AdaptiveRefreshableCredentials),
    )
