"""The admin sub-application at /admin/: its middleware, its routes, what it is given.

`admin_face(deps)` is a `Mount` (web/app.py): the root adds it to `WebParts.faces`
(pbxbridge/webserver.py). A new section's module has `routes = AdminRoutes()`; add it to
ROUTE_TABLES and its entry to web/admin/sections.py SECTIONS.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from web.admin import accounts, callbacks, calls, login, missed, sms, status, subscribers
from web.admin.deps import ADMIN_DEPS, AdminDeps
from web.admin.routing import AdminRoutes
from web.admin.session_middleware import KEEPER, SessionKeeper, admin_sessions
from web.app import Mount

PREFIX = "/admin/"

ROUTE_TABLES: tuple[AdminRoutes, ...] = (
    login.routes,
    accounts.routes,
    status.routes,
    missed.routes,
    callbacks.routes,
    sms.routes,
    calls.routes,
    subscribers.routes,
)
"""Every admin module's routes."""


def build_admin(deps: AdminDeps, tables: Sequence[AdminRoutes] = ROUTE_TABLES) -> web.Application:
    admin = web.Application(middlewares=[admin_sessions])
    admin[ADMIN_DEPS] = deps
    admin[KEEPER] = SessionKeeper(
        deps.keys, deps.staff, deps.clock, deps.settings.admin_idle_minutes
    )
    for table in tables:
        for route in table:
            admin.router.add_route(route.method, route.path, route.handler)
    return admin


def admin_face(deps: AdminDeps) -> Mount:
    def mount(app: web.Application) -> None:
        app.add_subapp(PREFIX, build_admin(deps))

    return mount
