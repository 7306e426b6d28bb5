"""The self-hostable platform behind ``hub://org/name`` paths: the server, ``shoal serve``.

An aiohttp service (:mod:`.server`) with SQLite as the embedded
database (:mod:`.db`), scrypt password hashes (:mod:`.passwords`), signed HS256 tokens
(:mod:`.tokens`), orgs with read/write/admin roles, and a storage root whose datasets it hands
out with short-lived, prefix-scoped credentials (:mod:`.creds_vending`). It never proxies
dataset bytes. Its HTTP API (:mod:`.openapi`) is a superset of what the ``deeplake`` 3.9.52
client calls, so that client works against it too.

The client side lives below the API, not here: ``shoal.load("hub://org/name", token=...)``
opens :mod:`shoal.storage._hub`, which asks the platform for the storage URL and credentials
(:mod:`shoal.auth.platform_api`), caches them until shortly before they expire and refreshes
them in the background (:mod:`shoal.auth.hub_grants`), and opens the dataset read-only when the
user may only read. ``shoal login`` keeps its token as :mod:`shoal.auth.login_store` says;
renaming and privacy are in :mod:`shoal.auth.hub_datasets`.

Token lookup order for every ``hub://`` call: ``token=``, then ``SHOAL_TOKEN``, then
``ACTIVELOOP_TOKEN``, then the login stored by ``shoal login`` (in ``SHOAL_CONFIG_DIR``,
default ``~/.config/shoal``). The platform URL: ``SHOAL_PLATFORM_URL``, else the one stored
at login, else ``http://127.0.0.1:7777``.
"""
