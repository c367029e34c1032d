"""The Askozia PBX face that Ubilling before 1.5.9 polls (reference §1.4).

Ubilling's askozia, WhyDoYouCall and exhorse modules ask the PBX, with HTTP Basic auth
(`ASKOZIAPBX_LOGIN`/`ASKOZIAPBX_PASSWORD` in Ubilling = `[askozia] username`/`password`
here), for

- `POST /status_cdr.php`, multipart fields extension_number (`all` or an extension),
  cdr_filter (`incomingoutgoing`, `incoming`, `outgoing`), period_from and period_to
  (Y-m-d), date_format (`Y-m-d`), time_format (`H:i:s`), page_format and SubmitCSVCDR
  (ignored): the calls of those days as `;`-separated CSV (askozia_api/cdr.py);
- `GET /external_get_info.php?data=main`: one status line (askozia_api/status.py).

The face is mounted only while a password is set. A request without credentials, or with
wrong ones, gets 401 with `WWW-Authenticate: Basic`; the password is compared in constant
time and never logged; failures are logged once per interval per client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from aiohttp import hdrs, web

from askozia_api.auth_log import AuthFailures
from askozia_api.cdr import CdrRecord, CdrSource, csv_line, header
from askozia_api.settings import AskoziaSettings
from askozia_api.status import StatusProbe
from primitives.clock import Clock
from web.addresses import client_ip

log = logging.getLogger("pbxbridge.faces")

FACE = "askozia"
REALM = 'Basic realm="pbxbridge (Askozia face)", charset="UTF-8"'
FILTERS = frozenset({"incomingoutgoing", "incoming", "outgoing"})


@dataclass(frozen=True)
class AskoziaDeps:
    settings: AskoziaSettings
    clock: Clock
    calls: CdrSource
    status: StatusProbe
    failures: AuthFailures


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def _plain(body: str, status: int = 200, content_type: str = "text/plain") -> web.Response:
    return web.Response(
        status=status,
        text=body,
        content_type=content_type,
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


class AskoziaFace:
    def __init__(self, deps: AskoziaDeps) -> None:
        if not deps.settings.enabled:
            raise ValueError("the Askozia face needs [askozia] password")
        self._deps = deps
        self._user = _digest(deps.settings.username.encode())
        self._password = _digest(deps.settings.password.get_secret_value().encode())

    def mount(self, app: web.Application) -> None:
        # Any method reaches the handler, which asks for credentials first: the anonymous
        # get 401, never a 405 telling them what is here.
        app.router.add_route("*", "/status_cdr.php", self.status_cdr)
        app.router.add_route("*", "/external_get_info.php", self.external_get_info)

    # ------------------------------------------------------------------ Basic auth

    def _authorised(self, request: web.Request) -> None:
        """Return when the request carries the configured credentials; else raise 401."""
        given = request.headers.get(hdrs.AUTHORIZATION, "")
        scheme, _, encoded = given.strip().partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            self._deps.failures.note(FACE, client_ip(request), "no Basic credentials")
            raise self._challenge("send HTTP Basic credentials ([askozia] username/password)")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        user, colon, password = decoded.partition(b":")
        good_user = hmac.compare_digest(_digest(user), self._user)
        good_password = hmac.compare_digest(_digest(password), self._password)
        if not (colon and good_user and good_password):
            self._deps.failures.note(FACE, client_ip(request), "wrong user or password")
            raise self._challenge("wrong user or password")

    @staticmethod
    def _challenge(message: str) -> web.HTTPUnauthorized:
        return web.HTTPUnauthorized(
            text=message, headers={hdrs.WWW_AUTHENTICATE: REALM, "Cache-Control": "no-store"}
        )

    # ------------------------------------------------------------------ status_cdr.php

    async def status_cdr(self, request: web.Request) -> web.StreamResponse:
        self._authorised(request)
        if request.method != hdrs.METH_POST:
            raise web.HTTPMethodNotAllowed(request.method, [hdrs.METH_POST])
        form = await request.post()

        def value(name: str, default: str = "") -> str:
            got = form.get(name, default)
            return got.strip() if isinstance(got, str) else default

        asked = cdr_query(value, self._deps.settings.max_days)
        if isinstance(asked, str):
            return _plain(asked, 400)
        return await self._send_cdr(request, asked)

    async def _send_cdr(self, request: web.Request, asked: CdrQuery) -> web.StreamResponse:
        """The CSV of the days asked, streamed in chunks of 200 rows."""
        first, last = asked.first, asked.last
        keep = _filter(asked.kind, asked.extension)
        response = web.StreamResponse(
            headers={
                hdrs.CONTENT_TYPE: "text/csv; charset=utf-8",
                hdrs.CONTENT_DISPOSITION: f'attachment; filename="cdr-{first}-{last}.csv"',
                "Cache-Control": "no-store",
            }
        )
        await response.prepare(request)
        tz = self._deps.clock.tz
        chunk = [header()]
        rows = 0
        async for record in self._deps.calls.records(first, last):
            if not keep(record):
                continue
            chunk.append(csv_line(record, tz))
            rows += 1
            if len(chunk) >= 200:
                await response.write("".join(chunk).encode())
                chunk = []
        await response.write("".join(chunk).encode())
        await response.write_eof()
        log.info("askozia: %d CDR rows %s..%s sent to %s", rows, first, last, client_ip(request))
        return response

    # ------------------------------------------------------------------ external_get_info.php

    async def external_get_info(self, request: web.Request) -> web.Response:
        self._authorised(request)
        if request.method not in {hdrs.METH_GET, hdrs.METH_HEAD}:
            raise web.HTTPMethodNotAllowed(request.method, [hdrs.METH_GET])
        data = request.rel_url.query.get("data", "")
        if data != "main":
            return _plain("only data=main is served", 400)
        status = await self._deps.status.status()
        return _plain(status.line() + "\n", content_type="text/html")


@dataclass(frozen=True, slots=True)
class CdrQuery:
    """What status_cdr.php was asked for, once every field is checked."""

    first: date
    last: date
    kind: str
    """cdr_filter: incomingoutgoing, incoming or outgoing."""
    extension: str
    """extension_number: `all` or the extension a call must touch."""


def cdr_query(value: Callable[[str, str], str], max_days: int) -> CdrQuery | str:
    """The fields of the form (`value(name, default)`) checked in order: the period, its
    length (askozia.max_days), the formats, the filter. The query, or why it is refused
    (answered with 400)."""
    first = _day(value("period_from", ""))
    last = _day(value("period_to", ""))
    if first is None or last is None:
        return "period_from and period_to must be dates as YYYY-MM-DD"
    if last < first:
        return "period_to is before period_from"
    if (last - first).days + 1 > max_days:
        return f"at most {max_days} days per request ([askozia] max_days)"
    if value("date_format", "Y-m-d") != "Y-m-d" or value("time_format", "H:i:s") != "H:i:s":
        return "only date_format Y-m-d and time_format H:i:s are served"
    kind = value("cdr_filter", "incomingoutgoing")
    if kind not in FILTERS:
        return f"cdr_filter must be one of {', '.join(sorted(FILTERS))}"
    return CdrQuery(first, last, kind, value("extension_number", "all"))


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _filter(kind: str, extension: str) -> Callable[[CdrRecord], bool]:
    def keep(record: CdrRecord) -> bool:
        if kind == "incoming" and record.direction != "incoming":
            return False
        if kind == "outgoing" and record.direction != "outgoing":
            return False
        if extension and extension != "all":
            return extension in {record.src, record.dst, record.called}
        return True

    return keep


def askozia_face(deps: AskoziaDeps) -> Callable[[web.Application], None]:
    """The Mount for WebParts.faces."""
    return AskoziaFace(deps).mount
