"""/admin/calls: the call log, searched by number and dates, one direction or disposition,
with the recording's name. The list is the REST API's (web/api/calls.py `calls_page`,
reading the call log's store): the same filters, the same query."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from web.admin.layout import admin_page
from web.admin.lists import api_list
from web.admin.paging import cursor_window
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.api.calls import CallsQuery, calls_page

routes = AdminRoutes()

SIZE = 50
FILTERS = ("number", "since", "until", "direction", "disposition")

DIRECTIONS: Final = {"incoming": "incoming", "outgoing": "outgoing", "internal": "internal"}
DISPOSITIONS: Final = {
    "ANSWERED": "answered",
    "NO ANSWER": "no answer",
    "BUSY": "busy",
    "FAILED": "failed",
}
"""The filters' choices (the API's values) and how the page names them."""


@routes.get("/calls", Permission.VIEW)
async def calls(request: web.Request) -> web.StreamResponse:
    page, notices = await api_list(request, CallsQuery, calls_page, size=SIZE)
    context = {
        "window": cursor_window(request, page.items if page else [], page.next if page else None),
        "notices": notices,
        "filters": {k: request.query.get(k, "") for k in FILTERS},
        "directions": DIRECTIONS,
        "dispositions": DISPOSITIONS,
    }
    return admin_page(request, "admin/calls.html", context)
