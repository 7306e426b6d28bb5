"""Changing organizations, as the JSON API and the web app both do it: create one, set or
remove a member. Only members see an org; only admins change its members; members may leave."""

from __future__ import annotations

from .common import Caller, Platform, check_name, fail, find_org, log, require_member
from .db import ROLES, Conflict, Org


async def create_org(p: Platform, who: Caller, name: str) -> Org:
    assert who.user is not None
    check_name("organization name", name, reserved=True)
    try:
        org = await p.db.create_org(name, who.user.id)
    except Conflict as exc:
        fail(409, "conflict", str(exc))
    log.info("org created", extra={"fields": {"user": who.name, "org": name}})
    return org


async def set_member(p: Platform, who: Caller, org_name: str, username: str, role: str) -> Org:
    """Add ``username`` to the org with ``role``, or change their role (admins)."""
    org = await find_org(p, org_name)
    await require_member(p, who, org, "admin")
    if role not in ROLES:
        fail(400, "bad_request", f"role must be one of {', '.join(ROLES)}, not {role[:20]!r}")
    check_name("username", username)
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
    return org


async def remove_member(p: Platform, who: Caller, org_name: str, username: str) -> Org:
    """Admins remove anyone; members may remove themselves (leave)."""
    assert who.user is not None
    org = await find_org(p, org_name)
    check_name("username", username)
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
    return org
