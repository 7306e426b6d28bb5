"""The aiohttp application behind ``shoal serve``, and how to run it.

* :func:`create_app` builds the app for a :class:`ServerConfig`: the database is opened (and
  migrated) when the app starts and closed when it stops, as is the credential vendor.
* :func:`serve` runs it until SIGINT/SIGTERM, then stops accepting connections, lets requests
  in flight finish (up to ``shutdown_timeout``) and closes everything.
* :class:`BackgroundServer` runs it on a thread with its own loop, for tests and benchmarks.

Every ``/api/`` response is JSON; errors are ``{"error": kind, "description": message}``
with the right status, and nothing a client sends turns into a 500 (those are bugs, logged
with a traceback). The web app's pages live at ``/`` (:mod:`.web`). One structured log line
per request (method, path without the query, status, milliseconds, user); tokens, passwords
and credentials never reach the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..errors import DatabaseUnavailableError, PlatformConfigError
from . import (
    openapi,
    passwords,
    routes_connect,
    routes_creds,
    routes_datasets,
    routes_objects,
    routes_orgs,
    routes_user,
)
from .common import (
    CALLER,
    STATE,
    ApiError,
    JsonFormatter,
    Platform,
    TextFormatter,
    authenticate,
    log,
    platform,
)
from .config import ServerConfig
from .creds_vending import make_vendor
from .crypto import load_ring
from .data_dir import private_dir
from .db import Database
from .db_backends import unavailable_errors
from .grant_cache import GrantCache
from .login_limits import LoginLimiter
from .web import app as webapp

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_KIND_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("shoal")
    except Exception:  # not installed as a distribution (a source checkout)
        return "0"


@web.middleware
async def _errors_and_access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500
    try:
        await authenticate(request)
        response = await handler(request)
        status = response.status
        return response
    except ApiError as exc:
        status = exc.status
        return exc.response()
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        kind = _KIND_BY_STATUS.get(exc.status, "error")
        message = {
            404: f"no such endpoint: {request.method} {request.path} (see GET /api/openapi.json)",
            405: f"{request.method} is not allowed on {request.path}",
        }.get(exc.status, exc.reason)
        return web.json_response({"error": kind, "description": message}, status=exc.status)
    except asyncio.CancelledError:
        status = 499
        raise
    except DatabaseUnavailableError as exc:
        # The connection was lost while committing: the change is known not to have been
        # saved (retry), or, rarely, nobody can tell (no Retry-After: look first).
        status = 503
        log.error(
            "database connection lost while committing",
            extra={"fields": {"path": request.path, "saved": exc.saved}},
        )
        unknown = exc.saved is None
        return web.json_response(
            {
                "error": "write_outcome_unknown" if unknown else "write_not_saved",
                "description": str(exc),
                "saved": exc.saved,
            },
            status=503,
            headers={} if unknown else {"Retry-After": "1"},
        )
    except unavailable_errors() as exc:
        # A lock held elsewhere for longer than busy_timeout, a full disk, a read-only file.
        status = 503
        log.error(
            "database unavailable", extra={"fields": {"path": request.path, "error": str(exc)}}
        )
        return web.json_response(
            {
                "error": "database_unavailable",
                "description": "the database is busy or not "
                "writable; try again shortly, or tell the platform's admin",
            },
            status=503,
            headers={"Retry-After": "2"},
        )
    except Exception:
        log.exception("unhandled error", extra={"fields": {"path": request.path}})
        return web.json_response(
            {"error": "internal", "description": "internal server error; see the server log"},
            status=500,
        )
    finally:
        if log.isEnabledFor(logging.INFO):
            _access_log(request, status, start)


def _access_log(request: web.Request, status: int, start: float) -> None:
    who = request.get(CALLER)
    log.info(
        "request",
        extra={
            "fields": {
                "method": request.method,
                "path": request.path,
                "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2),
                "user": who.name if who is not None else None,
                "remote": request.remote,
            }
        },
    )


async def _health(request: web.Request) -> web.Response:
    p = platform(request)
    # Its own connection: answers while the others wait for a lock.
    db_state = await p.db.writable()
    db_ok = db_state == "ok"
    return web.json_response(
        {
            "status": "ok" if db_ok else "degraded",
            "database": db_state,
            "storage": p.vendor.kind,
            "version": _version(),
            "uptime_s": round(time.time() - p.started_at, 1),
        },
        status=200 if db_ok else 503,
    )


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi.spec(_version()))


def create_app(config: ServerConfig) -> web.Application:
    """The platform app. Its database and vendor open on startup and close on cleanup."""
    app = web.Application(
        middlewares=[_errors_and_access_log, webapp.middleware], client_max_size=4 * 1024 * 1024
    )
    app.router.add_get("/api/health", _health)
    app.router.add_get("/api/openapi.json", _openapi)
    app.add_routes(routes_user.routes)
    app.add_routes(routes_orgs.routes)
    app.add_routes(routes_datasets.routes)
    app.add_routes(routes_objects.routes)
    app.add_routes(routes_creds.routes)
    app.add_routes(routes_connect.routes)
    webapp.setup(app)

    async def lifecycle(app: web.Application) -> Any:
        private_dir(config.data_dir)
        secret = config.secret()
        db = await Database.open(config.database)
        try:
            vendor = make_vendor(config)
        except BaseException:
            await db.close()
            raise
        try:
            vendor.cache = GrantCache(db, load_ring(config.creds_encryption_keys, config.data_dir))
            await vendor.start()
            dummy = await asyncio.to_thread(passwords.dummy_hash, config.scrypt_n)
        except BaseException:
            await db.close()
            await vendor.close()
            raise
        app[STATE] = Platform(
            config=config,
            db=db,
            vendor=vendor,
            secret=secret,
            limiter=LoginLimiter(
                db,
                config.login_max_failures,
                config.login_max_failures_per_ip,
                config.login_window,
                config.login_backoff,
            ),
            dummy_hash=dummy,
        )
        log.info(
            "platform started",
            extra={
                "fields": {
                    "data_dir": config.data_dir,
                    "database": db.where,
                    "storage": vendor.kind,
                    "storage_root": vendor.root,
                    "schema_version": await db.schema_version(),
                }
            },
        )
        yield
        await vendor.close()
        await db.close()
        log.info("platform stopped")

    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.append(routes_creds.lifecycle)
    return app


def configure_logging(config: ServerConfig, stream: Any = None) -> None:
    """Structured (JSON lines) or text logs for the ``shoal.platform`` logger, on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if config.log_format == "json" else TextFormatter())
    logger = logging.getLogger("shoal.platform")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(config.log_level.upper())
    logger.propagate = False


async def serve(
    config: ServerConfig,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run until ``stop`` is set or SIGINT/SIGTERM arrives; then shut down cleanly.

    ``ready(url)`` is called once the socket listens (with the real port when ``port`` is 0).
    """
    stop = stop or asyncio.Event()
    app = create_app(config)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=config.shutdown_timeout
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not on unix
                pass
    try:
        site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise PlatformConfigError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}; is another "
                "server running there? Pick another --port (or SHOAL_SERVE_PORT)"
            ) from None
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        log.info("listening", extra={"fields": {"url": url, "pid": os.getpid()}})
        if ready is not None:
            ready(url)
        await stop.wait()
        log.info("shutting down")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runner.cleanup()


class BackgroundServer:
    """The platform on a daemon thread with its own event loop (tests, benchmarks)::

    with BackgroundServer(config) as server:
        requests go to server.url
    """

    def __init__(self, config: ServerConfig, *, start_timeout: float = 30.0) -> None:
        self.config = config
        self.url = ""
        self._timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> BackgroundServer:
        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stop = asyncio.Event()

            def ready(url: str) -> None:
                self.url = url
                self._ready.set()

            try:
                loop.run_until_complete(serve(self.config, stop=self._stop, ready=ready))
            except BaseException as exc:
                self._error = exc
            finally:
                self._ready.set()
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        self._thread = threading.Thread(target=run, name="shoal-platform", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._timeout):
            raise TimeoutError(f"the platform did not start within {self._timeout} s")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def stop(self) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout=self.config.shutdown_timeout + 10)
        self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
