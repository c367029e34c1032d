"""Declaring an admin route: the path, the method and the permission it needs, once.

    routes = AdminRoutes()

    @routes.get("/campaigns", Permission.VIEW)
    async def campaigns(request: web.Request) -> web.StreamResponse: ...

    @routes.post("/campaigns/{id}/start", Permission.CAMPAIGNS)
    async def start(request: web.Request) -> web.StreamResponse: ...

The session middleware (web/admin/session_middleware.py) reads the permission from the handler: a
logged-out request gets 303 to the login form, a POST without its CSRF token 403, a role
without the permission (web/admin/roles.py) 403. `public=True` is for the login form only.
A module's `routes` is added to ROUTE_TABLES in web/admin/app.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from aiohttp import web

from web.admin.roles import Permission

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PERMISSION_ATTR = "pbxbridge_admin_permission"
"""Set on a handler: its Permission, or None for a public route (the login form)."""
UPLOAD_ATTR = "pbxbridge_admin_upload"
"""Set on a handler that takes a file upload: its body may be http.max_upload_bytes."""


@dataclass(frozen=True, slots=True)
class AdminRoute:
    method: str
    path: str
    handler: Handler


class AdminRoutes:
    def __init__(self) -> None:
        self._routes: list[AdminRoute] = []

    def __iter__(self) -> Iterator[AdminRoute]:
        return iter(self._routes)

    def route(
        self,
        method: str,
        path: str,
        permission: Permission | None,
        *,
        public: bool = False,
        upload: bool = False,
    ) -> Callable[[Handler], Handler]:
        if permission is None and not public:
            raise ValueError(f"{method} {path}: a permission, or public=True")

        def declare(handler: Handler) -> Handler:
            setattr(handler, PERMISSION_ATTR, None if public else permission)
            if upload:
                setattr(handler, UPLOAD_ATTR, True)
            self._routes.append(AdminRoute(method, path, handler))
            return handler

        return declare

    def get(
        self, path: str, permission: Permission = Permission.VIEW
    ) -> Callable[[Handler], Handler]:
        return self.route("GET", path, permission)

    def post(
        self, path: str, permission: Permission, *, upload: bool = False
    ) -> Callable[[Handler], Handler]:
        """`upload=True`: the form sends a file (multipart; its CSRF token in the action
        URL, macro `upload_action`), up to http.max_upload_bytes."""
        return self.route("POST", path, permission, upload=upload)


def permission_of(handler: object) -> Permission | None:
    """The permission a handler needs; None: public. An undeclared handler (aiohttp's own
    404/405) needs a login, like any page."""
    if not hasattr(handler, PERMISSION_ATTR):
        return Permission.VIEW
    found: Permission | None = getattr(handler, PERMISSION_ATTR)
    return found
