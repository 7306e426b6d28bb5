"""Organizations and their members. Every user has a personal org (their username) where they
are admin; other orgs are created by users, who become their first admin. Roles: read < write
< admin. Only members see an org's details; only admins change its members."""

from __future__ import annotations

from aiohttp import web

from .common import (
    caller,
    check_name,
    fail,
    find_org,
    get_str,
    json_body,
    log,
    platform,
    require_member,
)
from .db import ROLES, Conflict

routes = web.RouteTableDef()


@routes.get("/api/organizations")
async def my_orgs(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    assert who.user is not None
    orgs = [
        {"name": org.name, "role": role, "personal": org.personal_user_id is not None}
        for org, role in await p.db.orgs_of(who.user.id)
    ]
    return web.json_response({"organizations": orgs})


@routes.post("/api/organizations")
async def create_org(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    assert who.user is not None
    body = await json_body(request)
    name = check_name("organization name", get_str(body, "name", limit=64), reserved=True)
    try:
        await p.db.create_org(name, who.user.id)
    except Conflict as exc:
        fail(409, "conflict", str(exc))
    log.info("org created", extra={"fields": {"user": who.name, "org": name}})
    return web.json_response({"name": name, "role": "admin", "personal": False}, status=201)


@routes.get("/api/organizations/{org}")
async def get_org(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    role = await require_member(p, who, org)
    return web.json_response(
        {"name": org.name, "personal": org.personal_user_id is not None, "role": role}
    )


@routes.get("/api/organizations/{org}/members")
async def members(request: web.Request) -> web.Response:
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    await require_member(p, who, org)
    return web.json_response(
        {"members": [{"username": u, "role": r} for u, r in await p.db.members(org.id)]}
    )


@routes.put("/api/organizations/{org}/members/{user}")
async def set_member(request: web.Request) -> web.Response:
    """``{"role": "read" | "write" | "admin"}``: add a member or change their role."""
    p = platform(request)
    who = caller(request)
    org = await find_org(p, request.match_info["org"])
    await require_member(p, who, org, "admin")
    body = await json_body(request)
    role = get_str(body, "role", limit=16)
    if role not in ROLES:
        fail(400, "bad_request", f"role must be one of {', '.join(ROLES)}, not {role[:20]!r}")
    username = check_name("username", request.match_info["user"])
    user = await p.db.user(username)
    if user is None:
        fail(404, "user_not_found", f"there is no user named {username!r}")
    try:
        await p.db.set_member(org, user.id, role)
    except Conflict as exc:
        fail(409, "conflict", str(exc))
    log.info(
        "member set",
        extra={
            "fields": {"user": who.name, "org": org.name, "member": user.username, "role": role}
        },
    )
    return web.json_response({"org": org.name, "username": user.username, "role": role})


@routes.delete("/api/organizations/{org}/members/{user}")
async def remove_member(request: web.Request) -> web.Response:
    """Admins remove anyone; members may remove themselves (leave)."""
    p = platform(request)
    who = caller(request)
    assert who.user is not None
    org = await find_org(p, request.match_info["org"])
    username = check_name("username", request.match_info["user"])
    leaving = username.lower() == who.user.username.lower()
    await require_member(p, who, org, "read" if leaving else "admin")
    user = await p.db.user(username)
    if user is None:
        fail(404, "user_not_found", f"there is no user named {username!r}")
    try:
        removed = await p.db.remove_member(org, user.id)
    except Conflict as exc:
        fail(409, "conflict", str(exc))
    if not removed:
        fail(404, "not_found", f"{username!r} is not a member of {org.name!r}")
    log.info(
        "member removed",
        extra={"fields": {"user": who.name, "org": org.name, "member": user.username}},
    )
    return web.json_response({"org": org.name, "removed": user.username})
