"""The OpenAPI 3.0 description of the platform's HTTP API (served at ``GET /api/openapi.json``).

Written by hand next to the routes; ``tests/platform/test_openapi.py`` checks that every route
is described and fuzzes every operation with schemathesis.
"""

from __future__ import annotations

from typing import Any

NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def _name(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": NAME_PATTERN, "description": description}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _name(description)}


def _op(
    summary: str,
    *,
    ok: int = 200,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    auth: str = "required",
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(ok): {
                "description": "success",
                "content": {"application/json": {"schema": result or {"type": "object"}}},
            },
            "default": {
                "description": "an error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if auth == "none":
        op["security"] = []
    elif auth == "optional":
        op["security"] = [{}, {"bearer": []}]
    return op


ORG = _path_param("org", "organization (or user) name")
DS = _path_param("ds", "dataset name")

_DATASET = _obj(
    {
        "org": {"type": "string"},
        "name": {"type": "string"},
        "tag": {"type": "string"},
        "public": {"type": "boolean"},
        "path": {"type": "string"},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "role": {"type": "string", "nullable": True},
    },
    ["org", "name", "public", "path"],
)


def spec(version: str = "0") -> dict[str, Any]:
    """The OpenAPI document."""
    paths: dict[str, Any] = {
        "/api/health": {"get": _op("Liveness and database check", auth="none")},
        "/api/openapi.json": {"get": _op("This document", auth="none")},
        "/api/user/register": {
            "post": _op(
                "Create an account and its personal organization",
                ok=201,
                auth="none",
                body=_obj(
                    {
                        "username": _name("the username (also the personal org's name)"),
                        "email": {"type": "string", "format": "email"},
                        "password": {"type": "string", "minLength": 8, "maxLength": 1024},
                    },
                    ["username", "email", "password"],
                ),
            )
        },
        "/api/user/token": {
            "post": _op(
                "Log in: a login token (valid login_token_hours, 1000 by default)",
                auth="none",
                body=_obj(
                    {"username": {"type": "string"}, "password": {"type": "string"}},
                    ["username", "password"],
                ),
                result=_obj(
                    {"token": {"type": "string"}, "expires_at": {"type": "string"}}, ["token"]
                ),
            )
        },
        "/api/user/profile": {
            "get": _op(
                "The signed-in user and their organizations",
                result=_obj(
                    {
                        "_id": {"type": "string"},
                        "organizations": {"type": "array", "items": {"type": "string"}},
                    },
                    ["_id", "organizations"],
                ),
            )
        },
        "/api/user/logout": {"post": _op("Revoke the token this request carries")},
        "/api/user/tokens": {
            "get": _op("The user's API tokens (never their values)"),
            "post": _op(
                "Create an API token",
                ok=201,
                body=_obj(
                    {
                        "name": _name("a name to revoke it by"),
                        "expires": {"type": "string", "description": "30d, 12h, 90m, 3600s, 2w"},
                        "expires_in": {"type": "number", "description": "seconds"},
                    },
                    ["name"],
                ),
            ),
        },
        "/api/user/tokens/{name}": {
            "delete": _op("Revoke an API token", params=[_path_param("name", "token name")])
        },
        "/api/organizations": {
            "get": _op("The user's organizations and roles"),
            "post": _op(
                "Create an organization (the caller becomes its admin)",
                ok=201,
                body=_obj({"name": _name("organization name")}, ["name"]),
            ),
        },
        "/api/organizations/{org}": {"get": _op("An organization (members only)", params=[ORG])},
        "/api/organizations/{org}/members": {"get": _op("Members and roles", params=[ORG])},
        "/api/organizations/{org}/members/{user}": {
            "put": _op(
                "Add a member or change their role (admins)",
                params=[ORG, _path_param("user", "username")],
                body=_obj(
                    {"role": {"type": "string", "enum": ["read", "write", "admin"]}}, ["role"]
                ),
            ),
            "delete": _op(
                "Remove a member (admins) or leave", params=[ORG, _path_param("user", "username")]
            ),
        },
        "/api/org/{org}/ds/{ds}/creds": {
            "get": _op(
                "Storage path and short-lived credentials for a dataset (deeplake-compatible)",
                auth="optional",
                params=[
                    ORG,
                    DS,
                    {
                        "name": "mode",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["r", "w", "a"]},
                    },
                    {"name": "no_cache", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "db_engine", "in": "query", "schema": {"type": "string"}},
                ],
                result=_obj(
                    {
                        "path": {"type": "string"},
                        "creds": {"type": "object"},
                        "mode": {"type": "string", "enum": ["r", "a"]},
                        "expiration": {"type": "number"},
                        "registered": {"type": "boolean"},
                        "read_via": {
                            "type": "string",
                            "enum": ["platform"],
                            "description": "no credentials: read through .../object and .../keys",
                        },
                    },
                    ["path", "creds", "mode"],
                ),
            )
        },
        "/api/org/{org}/ds/{ds}/object": {
            "get": _op(
                "An object of the dataset, read through the platform (grants with read_via)",
                auth="optional",
                params=[
                    ORG,
                    DS,
                    {"name": "key", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "start", "in": "query", "schema": {"type": "integer"}},
                    {"name": "end", "in": "query", "schema": {"type": "integer"}},
                    {"name": "stat", "in": "query", "schema": {"type": "boolean"}},
                ],
            )
        },
        "/api/org/{org}/ds/{ds}/keys": {
            "get": _op(
                "The dataset's keys under a prefix, read through the platform",
                auth="optional",
                params=[ORG, DS, {"name": "prefix", "in": "query", "schema": {"type": "string"}}],
            )
        },
        "/api/dataset/create": {
            "post": _op(
                "Record a dataset entry (deeplake-compatible)",
                body=_obj(
                    {
                        "tag": {"type": "string", "description": "org/name"},
                        "public": {"type": "boolean"},
                        "rewrite": {"type": "boolean"},
                        "meta": {"type": "object"},
                        "repository": {"type": "string", "nullable": True},
                    },
                    ["tag"],
                ),
                result=_DATASET,
            )
        },
        "/api/dataset/{org}/{ds}": {
            "delete": _op("Delete a dataset entry (deeplake-compatible)", params=[ORG, DS])
        },
        "/api/org/{org}/dataset/{ds}": {
            "get": _op("A dataset entry", auth="optional", params=[ORG, DS], result=_DATASET),
            "put": _op(
                "Change privacy (admins) or rename (writers) (deeplake-compatible)",
                params=[ORG, DS],
                body=_obj({"public": {"type": "boolean"}, "basename": _name("the new name")}),
                result=_DATASET,
            ),
        },
        "/api/org/{org}/datasets": {
            "get": _op(
                "An organization's datasets (public ones for non-members)",
                auth="optional",
                params=[ORG],
            )
        },
        "/api/event": {
            "post": _op(
                "Client usage event (accepted and ignored)",
                auth="optional",
                body={"type": "object"},
            )
        },
    }
    paths.update(_creds_paths())
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "shoal platform",
            "version": version,
            "description": (
                "Accounts, organizations, API tokens and hub:// dataset entries. A superset of "
                "the endpoints the deeplake 3.9.52 client calls. Errors are "
                '{"error": kind, "description": message}.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": {
                "Error": _obj(
                    {"error": {"type": "string"}, "description": {"type": "string"}},
                    ["error", "description"],
                )
            },
        },
    }


KEY = _path_param("key", "creds key name")
_CREDS_KEY = _obj(
    {
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["aws-keys", "aws-role", "gcs-key"]},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "allow_static": {"type": "boolean"},
        "settings": {"type": "object", "description": "non-secret settings (admins)"},
    },
    ["name", "kind", "created_at"],
)
_SECRET = {
    "type": "object",
    "description": (
        "aws-keys: aws_access_key_id, aws_secret_access_key, optional aws_session_token, "
        "endpoint_url, aws_region, role_arn; aws-role: role_arn, optional external_id, "
        "endpoint_url, aws_region; gcs-key: a service-account key file"
    ),
}


def _creds_paths() -> dict[str, Any]:
    """Managed credentials ("creds keys") of an organization."""
    return {
        "/api/org/{org}/creds": {
            "get": _op("The org's creds keys: name, kind, creation time (members)", params=[ORG]),
            "post": _op(
                "Store a creds key, encrypted; never returned again (admins)",
                ok=201,
                params=[ORG],
                body=_obj(
                    {
                        "name": _name("creds key name"),
                        "kind": {"type": "string", "enum": ["aws-keys", "aws-role", "gcs-key"]},
                        "secret": _SECRET,
                        "allow_static": {
                            "type": "boolean",
                            "description": "may the stored keys be handed out unscoped",
                        },
                    },
                    ["name", "kind", "secret"],
                ),
                result=_CREDS_KEY,
            ),
        },
        "/api/org/{org}/creds/{key}": {
            "get": _op("A creds key's non-secret settings (admins)", params=[ORG, KEY]),
            "put": _op(
                "Rotate: replace the secret (same kind) and/or the static opt-in (admins)",
                params=[ORG, KEY],
                body=_obj({"secret": _SECRET, "allow_static": {"type": "boolean"}}, ["secret"]),
                result=_CREDS_KEY,
            ),
            "delete": _op("Remove a creds key not used by a dataset (admins)", params=[ORG, KEY]),
        },
        "/api/org/{org}/storage/name": {
            "get": _op(
                "Short-lived credentials from a creds key (members; deeplake-compatible)",
                params=[
                    ORG,
                    {
                        "name": "query",
                        "in": "query",
                        "required": True,
                        "schema": _name("creds key"),
                    },
                    {
                        "name": "path",
                        "in": "query",
                        "schema": {"type": "string", "description": "limit to this location"},
                    },
                    {
                        "name": "mode",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["r", "w", "a"]},
                    },
                    {"name": "no_cache", "in": "query", "schema": {"type": "boolean"}},
                ],
                result=_obj(
                    {
                        "creds": {"type": "object"},
                        "expiration": {"type": "number"},
                        "mode": {"type": "string", "enum": ["r", "a"]},
                        "scoped": {"type": "boolean"},
                    },
                    ["creds", "scoped"],
                ),
            )
        },
        "/api/dataset/connect": {
            "post": _op(
                "Connect data in the org's own storage as org/name (writers; deeplake-compatible)",
                body=_obj(
                    {
                        "src_path": {"type": "string", "description": "s3:// or gcs:// location"},
                        "org_id": _name("organization"),
                        "ds_name": _name("dataset name (default: the last part of src_path)"),
                        "creds_key": _name("the creds key that reaches src_path"),
                    },
                    ["src_path", "org_id", "creds_key"],
                ),
                result=_obj({"generated_id": {"type": "string"}}, ["generated_id"]),
            )
        },
        "/api/org/{org}/storage": {
            "get": _op("The org's default storage for new datasets (members)", params=[ORG]),
            "put": _op(
                "Set the org's default storage: new hub:// datasets go there (admins)",
                params=[ORG],
                body=_obj(
                    {
                        "url": {"type": "string", "description": "s3:// or gcs:// prefix"},
                        "creds_key": _name("the creds key that reaches it"),
                    },
                    ["url", "creds_key"],
                ),
            ),
            "delete": _op(
                "New datasets go to the platform's own root again (admins)", params=[ORG]
            ),
        },
    }
