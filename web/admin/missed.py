"""/admin/missed: missed calls today and in the past (a date filter), with the subscriber,
the queue, the wait and whether they were recalled; one click asks a callback; a chart of
missed, recalled and the time to recall per day (SVG drawn on the server, no script).

The list and the figures are the REST API's (web/api/missed_calls.py `missed_page`,
`missed_stats`, reading the missed-calls store); the callback goes through the callbacks
page's `ask_callback` (the spooler's CallbackService, source `staff:<name>`, journalled).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from web.admin.callbacks import MESSAGES as CALLBACK_MESSAGES
from web.admin.callbacks import ask_callback
from web.admin.chart import chart
from web.admin.deps import admin_deps
from web.admin.layout import admin_page
from web.admin.lists import api_list, said
from web.admin.paging import cursor_window
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.admin.session_middleware import refuse, see_other
from web.api.missed_calls import MissedQuery, missed_page, missed_stats

routes = AdminRoutes()

BASE = "/admin/missed"
SIZE = 50
CHART_DAYS: Final = {"7": 7, "14": 14, "30": 30, "90": 90}
"""The chart's spans (?days=), the first the default."""

RECALLED: Final = {"true": "recalled", "false": "not recalled"}
"""The recalled filter's choices (the API's `recalled`)."""


@routes.get("/missed", Permission.VIEW)
async def missed(request: web.Request) -> web.StreamResponse:
    """Today's missed calls unless dates are asked for (`?since=…&until=…`, `?all=1`)."""
    deps = admin_deps(request)
    today = deps.clock.today().isoformat()
    dated = any(request.query.get(k) for k in ("since", "until")) or "all" in request.query
    fixed = {} if dated else {"since": today, "until": today}
    page, notices = await api_list(request, MissedQuery, missed_page, size=SIZE, **fixed)
    window = cursor_window(request, page.items if page else [], page.next if page else None)
    span = request.query.get("days", "")
    days = CHART_DAYS.get(span, next(iter(CHART_DAYS.values())))
    stats = await missed_stats(deps.api, days)
    context = {
        "window": window,
        "notices": said(request, CALLBACK_MESSAGES) + notices,
        "today": not dated,
        "filters": {k: request.query.get(k, "") for k in ("since", "until", "recalled", "number")},
        "recalled_choices": RECALLED,
        "stats": stats,
        "chart": chart(stats.days),
        "days": days,
        "spans": list(CHART_DAYS),
    }
    return admin_page(request, "admin/missed.html", context)


@routes.post("/missed/{id:[0-9]{1,9}}/callback", Permission.CALLBACKS)
async def call_back(request: web.Request) -> web.StreamResponse:
    """One click: a callback to the missed call's number."""
    call_id = int(request.match_info["id"])
    call = await admin_deps(request).api.calls.get(call_id)
    if call is None or not call.missed:
        return refuse(404, "404: no such missed call")
    key = await ask_callback(
        request,
        call.number or call.caller,
        name=call.name,
        comment=None,
        why=f" for missed call #{call_id}",
    )
    form = await request.post()
    return see_other(_back(form.get("back"), key))


def _back(back: object, key: str) -> str:
    """The missed-calls page the button was on (its filters kept: the form's `back`),
    saying what happened; anything but this page's own query is dropped."""
    query = ""
    if isinstance(back, str) and back.startswith(BASE + "?"):
        query = back[len(BASE) + 1 :]
    kept = [(k, v) for k, v in parse_qsl(query) if k != "said"]
    return f"{BASE}?{urlencode([*kept, ('said', key)])}"
