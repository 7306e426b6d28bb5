"""Organizations and their members. Every user has a personal org (their username) where they
are admin; other orgs are created by users, who become their first admin. Roles: read < write
< admin. Only members see an org's details; only admins change its members."""

from __future__ import annotations

from aiohttp import web

from . import org_actions
from .common import (
    caller,
    find_org,
    get_str,
    json_body,
    platform,
    require_member,
)

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
    body = await json_body(request)
    name = get_str(body, "name", limit=64)
    await org_actions.create_org(p, who, name)
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
    org = await org_actions.set_member(p, who, org.name, request.match_info["user"], role)
    user = await p.db.user(request.match_info["user"])
    assert user is not None
    return web.json_response({"org": org.name, "username": user.username, "role": role})


@routes.delete("/api/organizations/{org}/members/{user}")
async def remove_member(request: web.Request) -> web.Response:
    """Admins remove anyone; members may remove themselves (leave)."""
    p = platform(request)
    who = caller(request)
    org = await org_actions.remove_member(
        p, who, request.match_info["org"], request.match_info["user"]
    )
    user = await p.db.user(request.match_info["user"])
    name = user.username if user is not None else request.match_info["user"]
    return web.json_response({"org": org.name, "removed": name})
