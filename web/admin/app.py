"""The admin sub-application at /admin/: its middleware, its routes, what it is given.

`admin_face(deps)` is a `Mount` (web/app.py): the root adds it to `WebParts.faces`
(pbxbridge/webserver.py). A new section's module has `routes = AdminRoutes()`; add it to
ROUTE_TABLES and its entry to web/admin/sections.py SECTIONS.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from aiohttp import web

from web.admin import (
    accounts,
    callbacks,
    calls,
    campaigns,
    feed,
    login,
    missed,
    sms,
    status,
    subscribers,
)
from web.admin.deps import ADMIN_DEPS, AdminDeps
from web.admin.routing import UPLOAD_ATTR, AdminRoutes, Handler
from web.admin.session_middleware import KEEPER, SessionKeeper, admin_sessions
from web.api.deps import API_DEPS
from web.app import Mount
from web.middlewares import BODY_LIMIT_ATTR

PREFIX = "/admin/"

ROUTE_TABLES: tuple[AdminRoutes, ...] = (
    login.routes,
    accounts.routes,
    status.routes,
    campaigns.routes,
    missed.routes,
    callbacks.routes,
    sms.routes,
    calls.routes,
    subscribers.routes,
    feed.routes,
)
"""Every admin module's routes."""


def _limited(handler: Handler, limit: int) -> Handler:
    """`handler` taking bodies up to `limit` bytes (an upload route), its marks kept."""

    async def upload(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    functools.update_wrapper(upload, handler)
    setattr(upload, BODY_LIMIT_ATTR, limit)
    return upload


def build_admin(deps: AdminDeps, tables: Sequence[AdminRoutes] = ROUTE_TABLES) -> web.Application:
    admin = web.Application(middlewares=[admin_sessions])
    admin[ADMIN_DEPS] = deps
    admin[API_DEPS] = deps.api  # the pages call the API's handlers (web/admin/campaigns.py)
    admin[KEEPER] = SessionKeeper(
        deps.keys, deps.staff, deps.clock, deps.settings.admin_idle_minutes
    )
    for table in tables:
        for route in table:
            handler = route.handler
            if getattr(handler, UPLOAD_ATTR, False):
                handler = _limited(handler, deps.settings.max_upload_bytes)
            admin.router.add_route(route.method, route.path, handler)
    return admin


def admin_face(deps: AdminDeps) -> Mount:
    def mount(app: web.Application) -> None:
        app.add_subapp(PREFIX, build_admin(deps))

    return mount
