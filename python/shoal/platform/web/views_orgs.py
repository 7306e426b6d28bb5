"""Pages for organizations: the user's orgs (and creating one), an org's datasets, and its
members with their roles. Every org page checks membership first: another org's pages
answer 403 like the API does."""

from __future__ import annotations

import asyncio

from aiohttp import web

from .. import connected, org_actions
from ..common import ApiError, Platform, find_org, platform, require_member
from ..db import ROLES, Org
from ..tokens import isoformat
from . import reading, session
from .forms import form_of, page, see_other, text

routes = web.RouteTableDef()


async def org_for(request: web.Request, at_least: str = "read") -> tuple[Platform, Org, str]:
    """The org in the URL and the signed-in user's role in it (which must be ``at_least``)."""
    p = platform(request)
    who = session.require_user(request)
    org = await find_org(p, request.match_info["org"])
    role = await require_member(p, who, org, at_least)
    return p, org, role


async def _orgs_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.Response:
    p = platform(request)
    who = session.require_user(request)
    assert who.user is not None
    orgs = [
        {"name": o.name, "role": role, "personal": o.personal_user_id is not None}
        for o, role in await p.db.orgs_of(who.user.id)
    ]
    return page(request, "orgs.html", {"orgs": orgs, "error": error}, status=status)


@routes.get("/orgs")
async def orgs_page(request: web.Request) -> web.Response:
    return await _orgs_page(request)


@routes.post("/orgs")
async def create_org(request: web.Request) -> web.Response:
    p = platform(request)
    who = session.require_user(request)
    form = await form_of(request)
    try:
        org = await org_actions.create_org(p, who, text(form, "name", limit=64))
    except ApiError as exc:
        return await _orgs_page(request, exc.message, exc.status)
    return see_other(f"/o/{org.name}")


def _where(link: connected.Link) -> str:
    if link.connected:
        return f"connected (creds key {link.creds_key})"
    if link.creds_key:
        return f"org default storage (creds key {link.creds_key})"
    return "platform storage"


@routes.get("/o/{org}")
async def datasets_page(request: web.Request) -> web.Response:
    p, org, role = await org_for(request)
    rows = await p.db.datasets(org.id, public_only=False)
    default = await connected.default_storage(p, org.id)
    links = [await connected.link_of(p, r.id) for r in rows]
    summaries = await asyncio.gather(*(reading.summary(request, p, org, r) for r in rows))
    datasets = [
        {
            "name": r.name,
            "path": r.storage_url,
            "where": _where(link),
            "public": r.public,
            "updated_at": isoformat(r.updated_at),
            **s,
        }
        for r, link, s in zip(rows, links, summaries, strict=True)
    ]
    ctx = {"org": org.name, "role": role, "datasets": datasets, "default": default}
    return page(request, "datasets.html", ctx)


async def _members_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.Response:
    p, org, role = await org_for(request)
    members = [{"username": u, "role": r} for u, r in await p.db.members(org.id)]
    ctx = {
        "org": org.name,
        "role": role,
        "members": members,
        "roles": ROLES,
        "error": error,
        "personal": org.personal_user_id is not None,
    }
    return page(request, "members.html", ctx, status=status)


@routes.get("/o/{org}/members")
async def members_page(request: web.Request) -> web.Response:
    return await _members_page(request)


@routes.post("/o/{org}/members")
async def set_member(request: web.Request) -> web.Response:
    p = platform(request)
    who = session.require_user(request)
    form = await form_of(request)
    try:
        await org_actions.set_member(
            p,
            who,
            request.match_info["org"],
            text(form, "username", limit=64),
            text(form, "role", limit=16),
        )
    except ApiError as exc:
        return await _members_page(request, exc.message, exc.status)
    return see_other(f"/o/{request.match_info['org']}/members")


@routes.post("/o/{org}/members/{user}/remove")
async def remove_member(request: web.Request) -> web.Response:
    p = platform(request)
    who = session.require_user(request)
    assert who.user is not None
    name = request.match_info["user"]
    try:
        await org_actions.remove_member(p, who, request.match_info["org"], name)
    except ApiError as exc:
        return await _members_page(request, exc.message, exc.status)
    if name.lower() == who.user.username.lower():
        return see_other("/orgs")
    return see_other(f"/o/{request.match_info['org']}/members")
