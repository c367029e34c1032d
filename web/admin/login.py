"""/admin/login, /admin/logout and the home page /admin/.

A login attempt counts against two limits kept in the database (web/rate_limits.py), both
before the password is checked: the client address's (`http.admin_login_ip_per_hour`)
and the account name's (`http.admin_login_user_per_hour`); over either: 429. A wrong
name and a wrong password get the same answer. Failures are logged at most once per
interval with the latest name and address (a guesser cannot flood the log).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

from aiohttp import hdrs, web

from web.addresses import client_ip
from web.admin.deps import admin_deps
from web.admin.layout import admin_page
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.admin.session_middleware import (
    KEEPER,
    current,
    safe_next,
    see_other,
)
from web.i18n import translator
from web.pages import page_language
from web.rate_limits import Limit, ip_subject
from web.tally import Tally

log = logging.getLogger("pbxbridge.web.admin")

routes = AdminRoutes()

MESSAGES: Final = {
    "wrong": "Wrong user name or password.",
    "limited": "Too many login attempts. Please try again in %(minutes)s min.",
}
"""What the login form says, in English (web/i18n.py has the Ukrainian)."""

_failures = Tally("admin login", "failed login(s)", log)


def _form_text(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


@routes.route("GET", "/login", None, public=True)
async def login_form(request: web.Request) -> web.StreamResponse:
    nxt = safe_next(request.query.get("next"))
    if current(request).user is not None:
        return see_other(nxt)
    return admin_page(request, "admin/login.html", {"error": "", "username": "", "next": nxt})


@routes.route("POST", "/login", None, public=True)
async def login(request: web.Request) -> web.StreamResponse:
    deps = admin_deps(request)
    form = await request.post()
    name = _form_text(form.get("username"), 64).strip()
    password = _form_text(form.get("password"), 1024)
    nxt = safe_next(_form_text(form.get("next"), 2048))
    _ = translator(page_language(request))
    ip = client_ip(request)
    settings = deps.settings
    per_ip = Limit("login-ip", settings.admin_login_ip_per_hour, timedelta(hours=1))
    per_user = Limit("login-user", settings.admin_login_user_per_hour, timedelta(hours=1))
    for limit, subject in ((per_ip, ip_subject(ip)), (per_user, name.lower() or "-")):
        verdict = await deps.limits.hit(limit, subject)
        if not verdict.allowed:
            _failures.note(f"{name!r} from {ip}: over the {limit.name} limit")
            minutes = max(1, -(-verdict.retry_after // 60))
            return admin_page(
                request,
                "admin/login.html",
                {"error": _(MESSAGES["limited"], minutes=minutes), "username": name, "next": nxt},
                status=429,
                headers={hdrs.RETRY_AFTER: str(verdict.retry_after)},
            )
    user = await deps.staff.authenticate(name, password) if name and password else None
    if user is None:
        _failures.note(f"{name!r} from {ip}")
        return admin_page(
            request,
            "admin/login.html",
            {"error": _(MESSAGES["wrong"]), "username": name, "next": nxt},
        )
    request.config_dict[KEEPER].log_in(request, user)
    log.info("admin: %s logged in from %s", user.name, ip)
    return see_other(nxt)


@routes.post("/logout", Permission.VIEW)
async def logout(request: web.Request) -> web.StreamResponse:
    user = current(request).user
    await request.config_dict[KEEPER].log_out(request)
    if user is not None:
        log.info("admin: %s logged out", user.name)
    return see_other("/admin/login")


@routes.get("/", Permission.VIEW)
async def home(request: web.Request) -> web.StreamResponse:
    return admin_page(request, "admin/home.html", {})
