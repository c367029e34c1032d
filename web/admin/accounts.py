"""/admin/users and /admin/tokens (admins only): staff accounts and API tokens, through the
same stores as `pbxbridge users …` and `pbxbridge tokens …`, which write every change to
the audit journal as `staff:<name>`.

A change answers with the page again (status 200 or, when refused, 422) showing what
happened; a new token is shown once, on that answer only. An admin cannot disable or
demote the last active admin (nobody could manage accounts any more).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web
from multidict import MultiMapping

from web.admin.deps import admin_deps
from web.admin.layout import admin_page
from web.admin.paging import Pager
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.admin.session_middleware import staff_user
from web.errors import StaffError, TokenError
from web.i18n import translator
from web.pages import page_language
from web.staff import MIN_PASSWORD, Role, StaffStore
from web.tokens import NewToken, Scope

routes = AdminRoutes()

MESSAGES: Final = {
    "added": "User %(name)s added.",
    "password": "Password of %(name)s changed.",
    "role": "%(name)s is now %(role)s.",
    "disabled": "%(name)s is disabled.",
    "enabled": "%(name)s is enabled.",
    "last_admin": "%(name)s is the last active admin: make another admin first.",
    "no_role": "Choose a role.",
    "revoked": "Token %(name)s revoked.",
    "scope": "Unknown scope.",
}
"""What these pages say in English (web/i18n.py has the Ukrainian). Refusals of the stores
themselves are shown as they come (their English)."""

Notices = list[tuple[str, str]]


def _text(form: MultiMapping[Any], name: str, limit: int = 1024) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _say(request: web.Request, key: str, **values: object) -> str:
    return translator(page_language(request))(MESSAGES[key], **values)


async def _users_page(
    request: web.Request,
    notices: Notices,
    *,
    status: int = 200,
    values: Mapping[str, str] | None = None,
) -> web.Response:
    users = await admin_deps(request).staff.list()
    pager = Pager.of(request)
    context = {
        "window": pager.window(users[pager.offset : pager.offset + pager.limit]),
        "roles": [r.value for r in Role],
        "notices": notices,
        "min_password": MIN_PASSWORD,
        "values": values or {"name": "", "role": Role.OPERATOR.value},
    }
    return admin_page(request, "admin/users.html", context, status=status)


@routes.get("/users", Permission.USERS)
async def users(request: web.Request) -> web.StreamResponse:
    return await _users_page(request, [])


@routes.post("/users", Permission.USERS)
async def add_user(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, role = _text(form, "name", 64).strip(), _text(form, "role", 16)
    if role not in {r.value for r in Role}:
        return await _users_page(
            request, [("error", _say(request, "no_role"))], status=422, values=form_values(form)
        )
    try:
        await admin_deps(request).staff.add(
            name, Role(role), _text(form, "password"), actor=staff_user(request).actor
        )
    except StaffError as exc:
        return await _users_page(
            request, [("error", str(exc))], status=422, values=form_values(form)
        )
    return await _users_page(request, [("ok", _say(request, "added", name=name))])


def form_values(form: MultiMapping[Any]) -> dict[str, str]:
    return {"name": _text(form, "name", 64), "role": _text(form, "role", 16)}


async def _guard_last_admin(request: web.Request, name: str) -> str | None:
    """The refusal when `name` is the last active admin, else None."""
    staff = admin_deps(request).staff
    target = next((u for u in await staff.list() if u.name == name), None)
    if target is None or target.role is not Role.ADMIN or not target.active:
        return None
    if await staff.count_active_admins() <= 1:
        return _say(request, "last_admin", name=name)
    return None


@routes.post("/users/{name}/password", Permission.USERS)
async def set_password(request: web.Request) -> web.StreamResponse:
    password = _text(await request.post(), "password")
    actor = staff_user(request).actor
    return await _user_change(
        request, lambda s, n: s.set_password(n, password, actor=actor), "password"
    )


@routes.post("/users/{name}/role", Permission.USERS)
async def set_role(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    role = _text(await request.post(), "role", 16)
    if role not in {r.value for r in Role}:
        return await _users_page(request, [("error", _say(request, "no_role"))], status=422)
    refusal = await _guard_last_admin(request, name) if role != Role.ADMIN.value else None
    if refusal is not None:
        return await _users_page(request, [("error", refusal)], status=422)
    try:
        await admin_deps(request).staff.set_role(name, Role(role), actor=staff_user(request).actor)
    except StaffError as exc:
        return await _users_page(request, [("error", str(exc))], status=422)
    return await _users_page(request, [("ok", _say(request, "role", name=name, role=role))])


async def _user_change(
    request: web.Request, change: Callable[[StaffStore, str], Awaitable[object]], said: str
) -> web.Response:
    """Apply `change` to the account in the path; the page says `said` or the refusal."""
    name = request.match_info["name"]
    try:
        await change(admin_deps(request).staff, name)
    except StaffError as exc:
        return await _users_page(request, [("error", str(exc))], status=422)
    return await _users_page(request, [("ok", _say(request, said, name=name))])


@routes.post("/users/{name}/disable", Permission.USERS)
async def disable(request: web.Request) -> web.StreamResponse:
    refusal = await _guard_last_admin(request, request.match_info["name"])
    if refusal is not None:
        return await _users_page(request, [("error", refusal)], status=422)
    actor = staff_user(request).actor
    return await _user_change(request, lambda s, n: s.disable(n, actor=actor), "disabled")


@routes.post("/users/{name}/enable", Permission.USERS)
async def enable(request: web.Request) -> web.StreamResponse:
    actor = staff_user(request).actor
    return await _user_change(request, lambda s, n: s.enable(n, actor=actor), "enabled")


async def _tokens_page(
    request: web.Request,
    notices: Notices,
    *,
    status: int = 200,
    made: NewToken | None = None,
    name: str = "",
) -> web.Response:
    tokens = await admin_deps(request).tokens.list()
    pager = Pager.of(request)
    context = {
        "window": pager.window(tokens[pager.offset : pager.offset + pager.limit]),
        "scopes": [s.value for s in Scope],
        "notices": notices,
        "made": made,
        "values": {"name": name},
    }
    return admin_page(request, "admin/tokens.html", context, status=status)


@routes.get("/tokens", Permission.TOKENS)
async def tokens(request: web.Request) -> web.StreamResponse:
    return await _tokens_page(request, [])


@routes.post("/tokens", Permission.TOKENS)
async def create_token(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = _text(form, "name", 64).strip()
    known = {s.value for s in Scope}
    chosen = [v for v in form.getall("scope", []) if isinstance(v, str)]
    if any(v not in known for v in chosen):
        return await _tokens_page(
            request, [("error", _say(request, "scope"))], status=422, name=name
        )
    try:
        made = await admin_deps(request).tokens.create(
            name, frozenset(Scope(v) for v in chosen) or None, actor=staff_user(request).actor
        )
    except TokenError as exc:
        return await _tokens_page(request, [("error", str(exc))], status=422, name=name)
    return await _tokens_page(request, [], made=made)


@routes.post("/tokens/{name}/revoke", Permission.TOKENS)
async def revoke_token(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    try:
        await admin_deps(request).tokens.revoke(name, actor=staff_user(request).actor)
    except TokenError as exc:
        return await _tokens_page(request, [("error", str(exc))], status=422)
    return await _tokens_page(request, [("ok", _say(request, "revoked", name=name))])
