"""Staff sessions: a signed cookie, and the CSRF token that goes with it.

The cookie `pbx_admin` holds `{"s": sid, "u": user id, "e": epoch, "t": last seen}`,
signed with itsdangerous (HMAC-SHA1 over a key derived per salt from the 256-bit key kept
in the database, web/keys.py): a browser can read it but not change it. It is `HttpOnly`,
`SameSite=Lax`, `Path=/admin`, and `Secure` when the request came over HTTPS (our own TLS
or a trusted proxy's X-Forwarded-Proto, web/addresses.py). It carries no password, no
role and nothing secret: each request reads the account again, so a disabled account, a
new password or a logout (all raise the account's `epoch`) end its sessions at once.

Idle timeout: `t` is the time of the last request (the injected clock), rewritten at most
once a minute; a cookie older than `http.admin_idle_minutes` is a logged-out one.

CSRF: every session, anonymous ones too (the login form), has a random `sid`; the form
token is HMAC-SHA256(key, sid). A login makes a new sid (no session fixation), so the
token changes with it. The middleware checks it on every POST (web/admin/app.py), and
templates put it in a form with the `csrf_field()` macro (templates/admin/macros.html).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "pbx_admin"
COOKIE_PATH = "/admin"
SALT = "pbxbridge.admin.session"
KEY_NAME = "admin_session"
"""The key's name in web_keys."""
REFRESH_EVERY = timedelta(minutes=1)
"""The cookie's `t` is rewritten at most this often (not on every request)."""
MAX_COOKIE = 1024


@dataclass(frozen=True, slots=True)
class SessionData:
    sid: str
    user_id: int | None
    epoch: int
    seen: float
    """Unix time of the last request that rewrote the cookie."""

    @property
    def anonymous(self) -> bool:
        return self.user_id is None


def new_sid() -> str:
    return secrets.token_urlsafe(18)


class SessionCodec:
    """Signs and reads the cookie, and makes the CSRF token, with the stored key."""

    def __init__(self, key: str, idle: timedelta) -> None:
        self._key = key.encode()
        self._serializer = URLSafeSerializer(key, salt=SALT)
        self.idle = idle

    def anonymous(self, now: datetime) -> SessionData:
        return SessionData(new_sid(), None, 0, now.timestamp())

    def signed_in(self, user_id: int, epoch: int, now: datetime) -> SessionData:
        """A new session (a new sid) for a user who just logged in."""
        return SessionData(new_sid(), user_id, epoch, now.timestamp())

    def dumps(self, session: SessionData) -> str:
        return self._serializer.dumps(
            {"s": session.sid, "u": session.user_id, "e": session.epoch, "t": int(session.seen)}
        )

    def loads(self, text: str | None) -> SessionData | None:
        """The session a cookie holds, or None: missing, forged, changed or malformed."""
        if not text or len(text) > MAX_COOKIE:
            return None
        try:
            data: Any = self._serializer.loads(text)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        sid, user, epoch, seen = data.get("s"), data.get("u"), data.get("e"), data.get("t")
        if not isinstance(sid, str) or not isinstance(epoch, int) or not isinstance(seen, int):
            return None
        if user is not None and not isinstance(user, int):
            return None
        return SessionData(sid, user, epoch, float(seen))

    def expired(self, session: SessionData, now: datetime) -> bool:
        return now.timestamp() - session.seen > self.idle.total_seconds()

    def touched(self, session: SessionData, now: datetime) -> SessionData | None:
        """The session with `seen` moved to now, when it is time to rewrite it; else None."""
        if now.timestamp() - session.seen < REFRESH_EVERY.total_seconds():
            return None
        return replace(session, seen=now.timestamp())

    def csrf_token(self, session: SessionData) -> str:
        return hmac.new(self._key, f"csrf:{session.sid}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: SessionData, presented: str) -> bool:
        return hmac.compare_digest(self.csrf_token(session), presented)
