"""Files holding a secret (a login token, a signing key): written so that nobody but the
owner can read them, not even for a moment. The writer is :func:`shoal._files.write_private`
(temp file created 0600, flushed to disk, renamed over the target)."""

from __future__ import annotations

from .._files import write_private

__all__ = ["write_private"]
