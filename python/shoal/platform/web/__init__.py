"""The platform's web app: server-rendered pages at ``/`` (jinja2, autoescaped), static CSS and
the viewer's JavaScript under ``/static/``, no build step.

:func:`setup` adds it to the platform's aiohttp app; :data:`middleware` resolves the browser's
session, checks CSRF on every POST, renders errors as pages and sets the security headers.
"""

from __future__ import annotations

from .app import middleware, setup

__all__ = ["middleware", "setup"]
