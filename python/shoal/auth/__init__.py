"""Credentials for the cloud storage providers (``aws`` for s3://).

Each module turns what a user passes as ``creds=`` (or what the machine provides) into
credentials a provider can sign requests with, refreshes them before they expire, and describes
where they came from without ever showing a secret.
"""
