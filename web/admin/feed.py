"""/admin/feed: the live feed's WebSocket for the admin pages (web/feed.py).

Every admin page's script (web/static/feed.js, included by admin/layout.html) opens it.
The session middleware has already seen to the login: an anonymous handshake gets its 303
to the login form, which a browser's WebSocket takes as a failed connection (its script
tries again later). `serve_feed` asks once more whom it is for, and names the page's user
in the feed's log lines.
"""

from __future__ import annotations

from aiohttp import web

from web.admin.routing import AdminRoutes
from web.admin.session_middleware import current
from web.feed import FEED, serve_feed

routes = AdminRoutes()


async def staff_name(request: web.Request) -> str | None:
    user = current(request).user
    return None if user is None else user.name


@routes.get("/feed")
async def live_feed(request: web.Request) -> web.StreamResponse:
    feed = request.config_dict.get(FEED)
    if feed is None:
        raise web.HTTPNotFound(text="the live feed is off")
    return await serve_feed(request, feed, staff_name)
