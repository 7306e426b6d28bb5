"""Credentials for the storage providers, and the client side of the platform that vends
them for ``hub://`` paths.

``aws`` (s3://) and ``gcs`` (gcs://) turn what a user passes as ``creds=`` (or what the machine
provides) into credentials a provider can sign requests with, refresh them before they expire,
and describe where they came from without ever showing a secret.

For the platform (``shoal serve``): ``platform_api`` is its HTTP client, ``hub_grants`` caches
and refreshes the storage credentials it vends, ``hub_datasets`` renames datasets and changes
their privacy, ``login_store`` is where ``shoal login`` keeps the token (written 0600 by
:func:`shoal._files.write_private`), ``platform_names`` the naming rule both sides share.
"""
