"""The published OpenAPI description: it covers every route, and fuzzing every operation with
schemathesis (valid and malformed inputs) never gets a 500, never gets a non-JSON error, and a
rejected request never changes the database or the storage root."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from shoal.platform.config import ServerConfig
from shoal.platform.openapi import spec
from shoal.platform.server import BackgroundServer, create_app

from .conftest import Running

MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
MAX_EXAMPLES = int(os.environ.get("SHOAL_FUZZ_EXAMPLES", "12"))

schema = schemathesis.openapi.from_dict(spec())
schema.config.generation.update(modes=MODES, max_examples=MAX_EXAMPLES)


def test_every_route_is_described(tmp_path: Path) -> None:
    app = create_app(ServerConfig.load(None, env={}, data_dir=str(tmp_path)))
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    # The web app's pages (HTML, forms) live outside /api/ and are not part of the API.
    api = {(m, p) for m, p in routes if p.startswith("/api/")}
    described = {(m, p) for p, ops in spec()["paths"].items() for m in ops}
    assert api == described
    assert all(m in ("get", "post") for m, p in routes - api)


def test_served_document(shared_platform: Running) -> None:
    status, body = shared_platform.call("GET", "/api/openapi.json")
    assert status == 200 and body["openapi"].startswith("3.") and body["paths"]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("fuzz-platform")
    config = ServerConfig.load(
        None, env={}, data_dir=str(data), port=0, log_level="critical", scrypt_n=1024
    )
    with BackgroundServer(config) as server:
        p = Running(server, config)
        user = p.user("fuzzer")
        p.call("POST", "/api/dataset/create", {"tag": "fuzzer/ds"}, token=user.token)
        yield {"platform": p, "token": user.token, "user": user}


#: Tables of throttling and caching state, not data: a rejected login is counted there by
#: design (the login limits), and a vended grant may be cached.
NOT_DATA = ('INSERT INTO "login_attempts"', 'INSERT INTO "vended_grants"')


def state(p: Running) -> tuple[list[str], list[str]]:
    """The database rows (of data, not throttling state) and the files under the storage
    root."""
    conn = sqlite3.connect(Path(p.config.data_dir) / "platform.db")
    try:
        rows = [line for line in conn.iterdump() if not line.startswith(NOT_DATA)]
    finally:
        conn.close()
    root = Path(p.config.root)
    files = sorted(str(f.relative_to(root)) for f in root.rglob("*")) if root.exists() else []
    return rows, files


def exercise(case: Any, target: dict[str, Any]) -> int:
    """Send one generated request; a server error, a non-JSON error or a rejected request that
    changed data fails. Returns the status."""
    p: Running = target["platform"]
    token = target["token"]
    if case.path == "/api/user/logout":  # would revoke the token every other case uses
        _, body = p.call(
            "POST", "/api/user/tokens", {"name": f"t{uuid.uuid4().hex[:12]}"}, token=token
        )
        token = body["token"]
    before = state(p)
    response = case.call(base_url=p.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    status: int = response.status_code
    assert status < 500, (case.method, case.formatted_path, status, response.text[:300])
    if status >= 400:
        body = response.json()
        assert isinstance(body, dict) and body.get("description"), response.text[:300]
        assert state(p) == before, f"{case.method} {case.formatted_path} -> {status} changed data"
    return status


FUZZ_SETTINGS = settings(
    deadline=None,
    max_examples=MAX_EXAMPLES,
    suppress_health_check=list(HealthCheck),
    database=None,
)


# The fuzz target runs on SQLite (``state`` reads its file). Said as a parameter, it also gives
# each operation's test a node id of its own: schemathesis 4.32 under pytest 9 gives them all
# ``test_fuzz``, and pytest-xdist would run one of them.
@pytest.mark.parametrize("database", ["sqlite"])
@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz(case: Any, fuzz_target: dict[str, Any], database: str) -> None:
    exercise(case, fuzz_target)


def test_fuzzing_reached_both_outcomes(fuzz_target: dict[str, Any]) -> None:
    """Fuzzing gets past validation (2xx) and is rejected (4xx) many times, so the generated
    inputs reach the handlers as well as the error paths. The test drives its own pass over every
    operation rather than tallying test_fuzz, so it holds when run alone or in any order."""
    seen: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = st.one_of([operation.as_strategy(generation_mode=mode) for mode in MODES])

        @given(case=cases)
        @FUZZ_SETTINGS
        def fuzz(case: Any) -> None:
            seen[exercise(case, fuzz_target)] += 1

        fuzz()
    ok = sum(n for s, n in seen.items() if s < 300)
    rejected = sum(n for s, n in seen.items() if 400 <= s < 500)
    assert ok >= 20 and rejected >= 100, seen
