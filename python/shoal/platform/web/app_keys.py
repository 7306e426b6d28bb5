"""Request keys the web app's views and its middleware share."""

from __future__ import annotations

from aiohttp import web

#: Extra ``connect-src`` origins a page may fetch from (the viewer's bucket endpoint).
CONNECT_SRC = web.RequestKey("shoal_connect_src", list)
