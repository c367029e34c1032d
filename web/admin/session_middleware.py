"""The admin sub-application's one middleware: who is asking (the session cookie), then
the three server-side checks every admin route gets, in order:

1. logged in, unless the route is public (the login form): else 303 to /admin/login
   (any method, any path under /admin/, unknown ones too: the anonymous learn nothing);
2. a POST (any unsafe method) carries the session's CSRF token in `csrf_token` (an upload
   form in its action URL's query): else 403;
3. the user's role has the route's permission (web/admin/roles.py): else 403.

Then the handler runs; the cookie is (re)written when the session changed (a login, a
logout, an anonymous visitor's first page, `seen` moved on: web/admin/sessions.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from primitives.clock import Clock
from web.addresses import came_over_https, client_ip
from web.admin.roles import allowed
from web.admin.routing import permission_of
from web.admin.sessions import COOKIE, COOKIE_PATH, KEY_NAME, SessionCodec, SessionData
from web.keys import Keys
from web.middlewares import ACTOR
from web.staff import StaffStore, StaffUser

log = logging.getLogger("pbxbridge.web.admin")

LOGIN_PATH = "/admin/login"
HOME_PATH = "/admin/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"


@dataclass
class Current:
    """This request's session and user (None: anonymous); handlers change it through
    `log_in`/`log_out`, and the middleware writes the cookie when `dirty`."""

    codec: SessionCodec
    session: SessionData
    user: StaffUser | None
    dirty: bool = False
    csrf_token: str = field(init=False)

    def __post_init__(self) -> None:
        self.csrf_token = self.codec.csrf_token(self.session)

    def replace(self, session: SessionData, user: StaffUser | None) -> None:
        self.session = session
        self.user = user
        self.dirty = True
        self.csrf_token = self.codec.csrf_token(session)


CURRENT = web.RequestKey("admin_current", Current)


def current(request: web.Request) -> Current:
    return request[CURRENT]


def staff_user(request: web.Request) -> StaffUser:
    """The logged-in user of a non-public route (the middleware saw to it)."""
    user = request[CURRENT].user
    assert user is not None, "staff_user() on a public route"
    return user


class SessionKeeper:
    """The codec, made on first use from the key kept in the database (web/keys.py)."""

    def __init__(self, keys: Keys, staff: StaffStore, clock: Clock, idle_minutes: int) -> None:
        self._keys = keys
        self.staff = staff
        self.clock = clock
        self._idle_minutes = idle_minutes
        self._codec: SessionCodec | None = None
        self._lock = asyncio.Lock()

    async def codec(self) -> SessionCodec:
        if self._codec is None:
            async with self._lock:
                if self._codec is None:
                    key = await self._keys.get(KEY_NAME)
                    self._codec = SessionCodec(key, timedelta(minutes=self._idle_minutes))
        return self._codec

    async def resume(self, request: web.Request) -> Current:
        """The session the cookie holds, checked against the account as it is now."""
        codec = await self.codec()
        now = self.clock.now()
        session = codec.loads(request.cookies.get(COOKIE))
        if session is None:
            return Current(codec, codec.anonymous(now), None, dirty=True)
        if session.user_id is None:
            return Current(codec, session, None)
        if codec.expired(session, now):
            return Current(codec, codec.anonymous(now), None, dirty=True)
        user = await self.staff.get(session.user_id)
        if user is None or not user.active or user.epoch != session.epoch:
            return Current(codec, codec.anonymous(now), None, dirty=True)
        touched = codec.touched(session, now)
        return Current(codec, touched or session, user, dirty=touched is not None)

    def log_in(self, request: web.Request, user: StaffUser) -> None:
        """A new session (a new sid, so a new CSRF token) for `user`."""
        cur = request[CURRENT]
        cur.replace(cur.codec.signed_in(user.id, user.epoch, self.clock.now()), user)

    async def log_out(self, request: web.Request) -> None:
        """End every session of the user (the account's epoch moves on)."""
        cur = request[CURRENT]
        if cur.user is not None:
            await self.staff.end_sessions(cur.user.id)
        cur.replace(cur.codec.anonymous(self.clock.now()), None)


KEEPER = web.AppKey("admin_sessions", SessionKeeper)


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={hdrs.LOCATION: location})


def to_login(request: web.Request) -> web.Response:
    """303 to the login form; a page asked for by GET is where the login leads back."""
    if request.method == "GET" and request.path not in {HOME_PATH, LOGIN_PATH}:
        return see_other(f"{LOGIN_PATH}?next={quote(request.path_qs, safe='')}")
    return see_other(LOGIN_PATH)


def safe_next(value: str | None) -> str:
    """Where a login leads: a path under /admin/ on this site, else the home page."""
    if (
        value
        and value.startswith(HOME_PATH)
        and "\\" not in value
        and not value.startswith("//")
        and all(c.isprintable() for c in value)
    ):
        return value
    return HOME_PATH


def refuse(status: int, text: str) -> web.Response:
    return web.Response(
        status=status, text=text, headers={hdrs.CACHE_CONTROL: "no-store"}, charset="utf-8"
    )


async def _csrf_ok(request: web.Request, cur: Current) -> bool:
    """The token of a form is in its body; an upload form (multipart) carries it in its
    action URL (macro `upload_action`), so that its body streams to the handler unread."""
    if request.content_type == "multipart/form-data":
        presented: object = request.query.get(CSRF_FIELD)
    else:
        presented = (await request.post()).get(CSRF_FIELD)
    return isinstance(presented, str) and cur.codec.csrf_ok(cur.session, presented)


@web.middleware
async def admin_sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    keeper = request.config_dict[KEEPER]
    cur = await keeper.resume(request)
    request[CURRENT] = cur
    permission = permission_of(request.match_info.handler)
    response: web.StreamResponse
    if permission is not None and cur.user is None:
        response = to_login(request)
    elif request.method not in SAFE_METHODS and not await _csrf_ok(request, cur):
        log.warning(
            "admin: %s %s from %s refused: no or wrong CSRF token",
            request.method,
            request.path,
            client_ip(request),
        )
        response = refuse(403, "403: this form is out of date or was not sent by our page")
    elif permission is not None and cur.user is not None and not allowed(cur.user.role, permission):
        response = refuse(403, f"403: the {cur.user.role.value} role may not do this")
    else:
        if cur.user is not None:
            request[ACTOR] = cur.user.actor
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
    if cur.dirty:
        response.set_cookie(
            COOKIE,
            cur.codec.dumps(cur.session),
            path=COOKIE_PATH,
            httponly=True,
            samesite="Lax",
            secure=came_over_https(request),
        )
    return response
