"""/admin/sms: the inbox and the outbox with their states (unknown senders and unknown or
failed states highlighted), and a message to send with its length and part count shown as
it is typed (web/static/sms-count.js) and by the server for a browser without scripts
(the form's "Count" button), both from sms/text.py's sums.

The lists are the REST API's (web/api/sms.py `sms_page`); a message is queued through the
outbox as `pbxbridge sms send` and the API do (actor `staff:<name>`), journalled.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from sms import text as sms_text
from sms.errors import SmsRefused
from sms.outbox import MAX_TEXT
from web.admin.deps import admin_deps
from web.admin.journal import staff_journal
from web.admin.layout import admin_page
from web.admin.lists import Notices, api_list, said, words
from web.admin.paging import cursor_window
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.admin.session_middleware import see_other, staff_user
from web.api.sms import SmsQuery, sms_page

routes = AdminRoutes()

BASE = "/admin/sms"
SIZE = 50
NUMBER_MAX = 64

MESSAGES: Final = {
    "queued": "Message queued: the outbox below shows its state.",
    "refused": "The message was not queued: %(problem)s",
    "count": "%(length)s characters (%(encoding)s), %(parts)s SMS",
}
"""What the page says in English (web/i18n.py has the Ukrainian)."""
SAID: Final = {"queued": MESSAGES["queued"]}
"""What a redirect may name in `?said=`."""
BOXES: Final = {"in": "Inbox", "out": "Outbox"}
STATES: Final = {
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "failed",
    "unknown": "unknown",
}
"""Outbox states (sms.types.OutboxState) as the page names them."""
HIGHLIGHTED: Final = frozenset({"failed", "unknown"})
"""Outbox states a person should look at."""


def counted(request: web.Request, text: str) -> str:
    """The counter's line for `text` (what the script shows as the text is typed)."""
    encoding = sms_text.encoding_of(text)
    return words(request)(
        MESSAGES["count"],
        length=sms_text.length(text, encoding),
        encoding="GSM-7" if encoding == "gsm7" else "UCS-2",
        parts=sms_text.parts(text, encoding),
    )


async def _page(
    request: web.Request, *, draft: dict[str, str] | None = None, notices: Notices | None = None,
    status: int = 200,
) -> web.Response:  # fmt: skip
    box = request.query.get("box") if request.query.get("box") in BOXES else "in"
    page, problems = await api_list(request, SmsQuery, sms_page, size=SIZE, box=box)
    draft = draft or {"number": "", "text": ""}
    context: dict[str, Any] = {
        "window": cursor_window(request, page.items if page else [], page.next if page else None),
        "notices": (notices or said(request, SAID)) + problems,
        "box": box,
        "boxes": BOXES,
        "states": STATES,
        "highlighted": HIGHLIGHTED,
        "filters": {k: request.query.get(k, "") for k in ("state", "since", "until")},
        "draft": draft,
        "count": counted(request, draft["text"]),
        "count_template": words(request)(MESSAGES["count"]),
        "gsm_basic": "".join(sorted(set(sms_text.GSM7_BASIC) - {"\x1b"})),
        "gsm_extension": "".join(sms_text.GSM7_EXTENSION.values()),
        "max_text": MAX_TEXT,
    }
    return admin_page(request, "admin/sms.html", context, status=status)


@routes.get("/sms", Permission.VIEW)
async def sms(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@routes.post("/sms", Permission.SMS)
async def send(request: web.Request) -> web.StreamResponse:
    """Send (queue) the message; `action=count` only shows its length and parts."""
    form = await request.post()
    number = form.get("number")
    text = form.get("text")
    draft = {
        "number": number.strip()[:NUMBER_MAX] if isinstance(number, str) else "",
        "text": text.replace("\r\n", "\n")[: MAX_TEXT + 1] if isinstance(text, str) else "",
    }
    if form.get("action") == "count":
        return await _page(request, draft=draft)
    try:
        first = await admin_deps(request).api.outbox.queue(
            draft["number"], draft["text"], actor=staff_user(request).actor
        )
    except SmsRefused as exc:
        problem = words(request)(MESSAGES["refused"], problem=str(exc))
        return await _page(request, draft=draft, notices=[("error", problem)], status=422)
    await staff_journal(
        request, "sms", f"SMS #{first} to {draft['number']} queued ({len(draft['text'])} chars)"
    )
    return see_other(f"{BASE}?box=out&said=queued")
