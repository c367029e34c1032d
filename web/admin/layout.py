"""Rendering an admin page: `admin_page(request, "admin/x.html", {...})`.

Around web/pages.py's `render` (language, `_`, `static`), every admin template gets:

    user        the logged-in StaffUser (None on the login form)
    csrf_token  the session's token: forms put it in with `{{ ui.csrf_field() }}`
    sections    the sections this user may open (web/admin/sections.py), for the menu
    can         `can("users")`: whether the user's role has a permission (roles.py)
    when        `when(instant)`: a UTC datetime as "YYYY-MM-DD HH:MM" in the service's zone
    here        the page's path with its query, for forms that post back

Templates extend "admin/layout.html" and import the macros with
`{% import "admin/macros.html" as ui with context %}` (csrf_field, pagination, progress).
`?lang=` (the switch) is remembered in the `pbx_lang` cookie.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from web.addresses import came_over_https
from web.admin.roles import Permission, allowed
from web.admin.sections import visible
from web.admin.session_middleware import KEEPER, current
from web.i18n import LANG_COOKIE, as_language
from web.pages import page_language, render

LANG_COOKIE_AGE = timedelta(days=365)


def admin_page(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    cur = current(request)
    user = cur.user
    clock = request.config_dict[KEEPER].clock

    def can(permission: str) -> bool:
        return user is not None and allowed(user.role, Permission(permission))

    def when(instant: datetime | None) -> str:
        return "" if instant is None else clock.local(instant).strftime("%Y-%m-%d %H:%M")

    full = {
        "user": user,
        "csrf_token": cur.csrf_token,
        "sections": visible(user.role) if user is not None else [],
        "can": can,
        "when": when,
        "here": request.path_qs,
        **context,
    }
    response = render(
        request, template, full, language=page_language(request), status=status, headers=headers
    )
    chosen = as_language(request.query.get("lang"))
    if chosen is not None:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            path="/",
            max_age=int(LANG_COOKIE_AGE.total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=came_over_https(request),
        )
    return response
