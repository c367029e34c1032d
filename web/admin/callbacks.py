"""/admin/callbacks: the callback queue (requests and what became of their calls, with the
address a web form's request came from), a request made by hand, cancel.

Requests go through the spooler's `CallbackService` as every other way in does (the web
form, the bot, the CLI, the API): one normaliser, the do-not-call list, the hourly limit,
one callback per number at a time; the source names the staff user (`staff:<name>`).
The list is the REST API's (web/api/callbacks.py `callbacks_page`). Every request and
cancel is in the audit journal with the user's name.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from callfile_spooler.errors import CallbackError
from web.admin.deps import admin_deps
from web.admin.journal import staff_journal
from web.admin.layout import admin_page
from web.admin.lists import api_list, said
from web.admin.paging import cursor_window
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.admin.session_middleware import see_other, staff_user
from web.api.callbacks import CallbackQuery, callbacks_page

routes = AdminRoutes()

BASE = "/admin/callbacks"
SIZE = 50
FIELD_LIMIT = {"number": 40, "name": 80, "comment": 500}

MESSAGES: Final = {
    "requested": "Callback requested: it is in the queue below.",
    "not_refused": "The callback was refused; the list below says why.",
    "not_off": "Callbacks are off (callback.enabled = false).",
    "not_number": "That is not a phone number.",
    "cancelled": "Callback cancelled.",
    "not_cancellable": "Nothing to cancel: it was refused, cancelled already, or its call is over.",
    "not_found": "There is no such callback.",
}
"""What the pages say in English (web/i18n.py has the Ukrainian)."""

STATES: Final = {
    "refused": "refused",
    "cancelled": "cancelled",
    "pending": "pending",
    "calling": "calling",
    "answered": "answered",
    "given_up": "given up",
    "dnc": "do not call",
}
"""The callback states (web/api/callbacks.py CallbackState) as the page names them."""
OPEN: Final = frozenset({"pending", "calling"})
"""States with something left to cancel."""


async def ask_callback(
    request: web.Request, number: str, *, name: str | None, comment: str | None, why: str
) -> str:
    """A callback to `number` asked by the logged-in user (`why`: for the journal); the
    MESSAGES key of what became of it."""
    deps = admin_deps(request).api
    service = deps.callbacks
    if not service.settings.enabled:
        return "not_off"
    if deps.billing.phones.normalise(number) is None:
        return "not_number"
    try:
        result = await service.request(
            number, name=name, comment=comment, source=staff_user(request).actor
        )
    except CallbackError:
        return "not_number"
    outcome = "requested" if result.accepted else f"refused ({result.reason})"
    await staff_journal(
        request, "callback", f"callback #{result.id} to {result.number} {outcome}{why}"
    )
    return "requested" if result.accepted else "not_refused"


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip()[: FIELD_LIMIT[name]] if isinstance(value, str) else ""


@routes.get("/callbacks", Permission.VIEW)
async def callbacks(request: web.Request) -> web.StreamResponse:
    page, notices = await api_list(request, CallbackQuery, callbacks_page, size=SIZE)
    window = cursor_window(request, page.items if page else [], page.next if page else None)
    context = {
        "window": window,
        "notices": said(request, MESSAGES) + notices,
        "states": STATES,
        "open": OPEN,
        "filters": {k: request.query.get(k, "") for k in ("state", "since", "until")},
    }
    return admin_page(request, "admin/callbacks.html", context)


@routes.post("/callbacks", Permission.CALLBACKS)
async def request_callback(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    key = await ask_callback(
        request,
        _field(form, "number"),
        name=_field(form, "name") or None,
        comment=_field(form, "comment") or None,
        why=" by hand",
    )
    return see_other(f"{BASE}?said={key}")


@routes.post("/callbacks/{id:[0-9]{1,9}}/cancel", Permission.CALLBACKS)
async def cancel(request: web.Request) -> web.StreamResponse:
    callback_id = int(request.match_info["id"])
    user = staff_user(request)
    try:
        info = await admin_deps(request).api.callbacks.cancel(callback_id, actor=user.actor)
    except CallbackError:
        return see_other(f"{BASE}?said=not_cancellable")
    if info is None:
        return see_other(f"{BASE}?said=not_found")
    await staff_journal(request, "callback", f"callback #{callback_id} to {info.number} cancelled")
    return see_other(f"{BASE}?said=cancelled")
