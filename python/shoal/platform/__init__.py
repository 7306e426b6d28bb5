"""The self-hostable platform behind ``hub://org/name`` paths, and its client.

Server side (``shoal serve``): an aiohttp service (:mod:`.server`) with SQLite as the embedded
database (:mod:`.db`), scrypt password hashes (:mod:`.passwords`), signed HS256 tokens
(:mod:`.tokens`), orgs with read/write/admin roles, and a storage root whose datasets it hands
out with short-lived, prefix-scoped credentials (:mod:`.creds_vending`). It never proxies
dataset bytes. Its HTTP API (:mod:`.openapi`) is a superset of what the ``deeplake`` 3.9.52
client calls, so that client works against it too.

Client side (:mod:`.client`): ``shoal.load("hub://org/name", token=...)`` asks the platform
for the storage URL and credentials, caches them until shortly before they expire, refreshes
them in the background, and opens the dataset read-only when the user may only read.

Token lookup order for every ``hub://`` call: ``token=``, then ``SHOAL_TOKEN``, then
``ACTIVELOOP_TOKEN``, then the login stored by ``shoal login`` (in ``SHOAL_CONFIG_DIR``,
default ``~/.config/shoal``). The platform URL: ``SHOAL_PLATFORM_URL``, else the one stored
at login, else ``http://127.0.0.1:7777``.
"""

from __future__ import annotations

from .client import PlatformClient, rename_dataset, set_public

__all__ = ["PlatformClient", "rename_dataset", "set_public"]
