"""The platform database's schema, as numbered migrations: one list for SQLite and
PostgreSQL, written in SQLite's dialect (:func:`.db_backends.pg_schema` adapts the few types
that differ). Append only: a released migration never changes.
"""

from __future__ import annotations

from .creds_store import SCHEMA as CREDS_SCHEMA
from .grant_cache import SCHEMA as GRANTS_SCHEMA
from .login_limits import SCHEMA as LOGIN_SCHEMA

__all__ = ["MIGRATIONS"]

MIGRATIONS: list[str] = [
    # 1: users, orgs, memberships, tokens, datasets
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE orgs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        personal_user_id INTEGER UNIQUE REFERENCES users(id) ON DELETE CASCADE,
        created_at REAL NOT NULL
    );
    CREATE TABLE members (
        org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
        PRIMARY KEY (org_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_by_user ON members(user_id);
    CREATE TABLE tokens (
        jti TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('login', 'api')),
        name TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        revoked_at REAL
    ) WITHOUT ROWID;
    CREATE INDEX tokens_by_user ON tokens(user_id, kind);
    CREATE UNIQUE INDEX api_token_names ON tokens(user_id, name)
        WHERE kind = 'api' AND revoked_at IS NULL;
    CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        storage_url TEXT NOT NULL,
        public INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (org_id, name)
    );
    CREATE INDEX datasets_by_url ON datasets(storage_url);
    """,
    # 2: managed credentials, connected datasets, default storage (see creds_store.py)
    CREDS_SCHEMA,
    # 3: API tokens made by API tokens: their parent, and which tokens may make others
    """
    ALTER TABLE tokens ADD COLUMN parent_jti TEXT;
    ALTER TABLE tokens ADD COLUMN can_mint INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: what replicas share: login attempts (login_limits.py), vended grants (grant_cache.py)
    LOGIN_SCHEMA + ";" + GRANTS_SCHEMA,
]
