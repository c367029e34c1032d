"""The one HTTP door to a Ubilling remoteapi: URL building, redaction, timeouts, the breaker.

Ubilling takes its serial as `key=` in the query string, so every URL is a secret. Nothing
here lets a URL leave unredacted: log lines go through `redact`, and aiohttp exceptions
(whose text and attributes carry the URL) are turned into BillingError subclasses built
from scratch, raised `from None` so no traceback drags the original along.

Requests are never retried (aiohttp's own silent retry of idempotent requests on a dropped
keep-alive connection is switched off too): a money move reaching Ubilling twice would be
applied twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
from yarl import URL

from billing_client.breaker import CircuitBreaker
from billing_client.errors import BillingError, BillingUnavailable, FateUnknown, RequestNotSent
from billing_client.settings import BillingSettings
from billing_client.stats import (
    ABANDONED,
    BREAKER_OPEN,
    FATE_UNKNOWN,
    HTTP_STATUS,
    NOT_SENT,
    RequestStats,
)

log = logging.getLogger("pbxbridge.billing.ubilling")

_KEY_IN_URL = re.compile(r"(?i)((?:^|[?&;\s])key=)[^&#\s'\"]*")
_CARD_IN_URL = re.compile(
    r"(?i)((?:^|[?&;\s])paycardnum=)[^&#\s'\"]*?([^&#\s'\"]{0,4})(?=$|[&#\s'\"])"
)
PERIODIC = "periodic"
"""The request kind of a periodic action in the request counters (/metrics)."""
_PASSWORD_IN_JSON = re.compile(r'("Password"\s*:\s*)("(?:[^"\\]|\\.)*"|null)')


def redact(text: str) -> str:
    """Hide the key (`key=***`) and all but the last 4 digits of a pay card in a URL or text."""
    text = _KEY_IN_URL.sub(r"\1***", text)
    return _CARD_IN_URL.sub(r"\1…\2", text)


def scrub(body: str, secret: str = "") -> str:
    """A reply body made safe to quote in an error: no passwords, no key."""
    body = _PASSWORD_IN_JSON.sub(r'\1"***"', body)
    if secret:
        body = body.replace(secret, "***")
    return redact(body)


@dataclass(frozen=True, slots=True)
class Reply:
    what: str
    body: str
    content_type: str
    allow_origin: str | None


@dataclass(frozen=True, slots=True)
class Unanswered:
    """A request that got no usable answer: why (one safe line), and whether it certainly
    never reached Ubilling (`not_sent`: connection refused, no billing.url)."""

    reason: str
    not_sent: bool


def base_url(url: str) -> str:
    """`billing.url` as the prefix that `?module=remoteapi…` is appended to."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise BillingError("billing.url is not a URL") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise BillingError("billing.url must be an http:// or https:// URL with a host")
    path = parsed.path if parsed.path.endswith("/") else parsed.path + "/"
    return str(parsed.with_path(path).with_query(None).with_fragment(None))


class UbillingHttp:
    """One aiohttp session per backend, created lazily inside the running loop."""

    def __init__(self, settings: BillingSettings, breaker: CircuitBreaker) -> None:
        self._settings = settings
        self._breaker = breaker
        self.stats = RequestStats()
        """Requests by `what`, failures by `what` and why (/metrics reads them)."""
        self._base = base_url(settings.url) if settings.url else ""
        self._session: aiohttp.ClientSession | None = None

    def url(self, action: str, params: Sequence[tuple[str, str]]) -> URL:
        """The full request URL, key included: never log it without `redact`."""
        if not self._base:
            raise RequestNotSent("billing.url is not set")
        pairs = [
            ("module", "remoteapi"),
            ("key", self._settings.key.get_secret_value()),
            ("action", action),
            *params,
        ]
        query = "&".join(f"{name}={quote(value, safe='')}" for name, value in pairs)
        return URL(f"{self._base}?{query}", encoded=True)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=self._settings.connect_timeout,
                    sock_connect=self._settings.connect_timeout,
                    sock_read=self._settings.read_timeout,
                ),
                headers={"User-Agent": "pbxbridge"},
                trust_env=False,
            )
            # aiohttp re-sends an idempotent request once when the server drops the
            # connection; there is no public switch, and a money move must never go twice.
            self._session._retry_connection = False
        return self._session

    async def get(
        self, what: str, action: str, params: Sequence[tuple[str, str]], *, money: bool = False
    ) -> Reply:
        """Send one GET; `money` bounds it by money_timeout alone instead of the read timeout."""
        self.stats.asked(what)
        try:
            url = self.url(action, params)
        except RequestNotSent:
            self.stats.failed(what, NOT_SENT)
            raise
        shown = redact(str(url))
        try:
            trial = self._breaker.acquire()
        except BillingUnavailable as exc:
            self.stats.failed(what, BREAKER_OPEN)
            raise RequestNotSent(f"{what}: {exc}") from None
        limits = (
            aiohttp.ClientTimeout(
                total=self._settings.money_timeout,
                connect=self._settings.connect_timeout,
                sock_connect=self._settings.connect_timeout,
                sock_read=None,
            )
            if money
            else None
        )
        started = time.monotonic()
        healthy = False
        try:
            reply = await self._send(what, url, shown, limits)
            healthy = True
        except BillingUnavailable as exc:
            self._breaker.failure(trial, str(exc))
            self.stats.failed(what, NOT_SENT if isinstance(exc, RequestNotSent) else FATE_UNKNOWN)
            raise
        except asyncio.CancelledError:
            # Abandoned while waiting (a caller's deadline): for the breaker, a timeout.
            self._breaker.failure(trial, f"{what}: no answer within the caller's deadline")
            self.stats.failed(what, ABANDONED)
            raise
        except BaseException as exc:
            self._breaker.release(trial)
            if isinstance(exc, BillingError):
                self.stats.failed(what, HTTP_STATUS)
            raise
        finally:
            if healthy:
                self._breaker.success(trial)
            log.debug(
                "ubilling %s %s: %s in %.0f ms",
                what,
                shown,
                "answered" if healthy else "failed",
                (time.monotonic() - started) * 1000,
            )
        return reply

    async def action(self, action: str, params: Sequence[tuple[str, str]]) -> Reply | Unanswered:
        """One periodic action (a line of Ubilling's crontab), on the same session: its
        answer, or why there is none (never raised: a job records it).

        Outside the breaker, and with no read timeout: backupdb or swpoll over many
        switches may work for minutes before they answer, which says nothing about whether
        the calls' lookups will be answered (and a lookup failing says nothing about
        swpoll). The caller bounds it (the job's timeout cancels it). Never retried here.
        """
        self.stats.asked(PERIODIC)
        try:
            url = self.url(action, params)
        except RequestNotSent as exc:
            self.stats.failed(PERIODIC, NOT_SENT)
            return Unanswered(str(exc), not_sent=True)
        shown = redact(str(url))
        limits = aiohttp.ClientTimeout(
            total=None,
            connect=self._settings.connect_timeout,
            sock_connect=self._settings.connect_timeout,
            sock_read=None,
        )
        started = time.monotonic()
        try:
            reply = await self._send(action, url, shown, limits)
        except asyncio.CancelledError:
            self.stats.failed(PERIODIC, ABANDONED)
            raise
        except BillingError as exc:
            sent = not isinstance(exc, RequestNotSent)
            unavailable = isinstance(exc, BillingUnavailable)
            self.stats.failed(
                PERIODIC, (FATE_UNKNOWN if sent else NOT_SENT) if unavailable else HTTP_STATUS
            )
            return Unanswered(str(exc), not_sent=not sent)
        log.debug("ubilling %s: answered in %.0f ms", shown, (time.monotonic() - started) * 1000)
        return reply

    async def _send(
        self, what: str, url: URL, shown: str, limits: aiohttp.ClientTimeout | None
    ) -> Reply:
        secret = self._settings.key.get_secret_value()
        session = self._client()
        try:
            async with session.get(
                url, allow_redirects=False, timeout=limits or session.timeout
            ) as response:
                raw = await response.read()
                status = response.status
                content_type = response.headers.get("Content-Type", "")
                allow_origin = response.headers.get("Access-Control-Allow-Origin")
                location = response.headers.get("Location", "")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise RequestNotSent(
                f"{what}: cannot connect to Ubilling: {_describe(exc, secret)}"
            ) from None
        except aiohttp.InvalidURL:
            raise RequestNotSent(f"{what}: invalid Ubilling URL {shown}") from None
        except TimeoutError:
            raise FateUnknown(f"{what}: Ubilling did not answer in time") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise FateUnknown(f"{what}: {_describe(exc, secret)}") from None
        body = raw.decode("utf-8", errors="replace")
        if status >= 500:
            raise FateUnknown(f"{what}: Ubilling answered HTTP {status}")
        if 300 <= status < 400:
            raise BillingError(
                f"{what}: Ubilling answered HTTP {status} redirect to "
                f"{redact(location)[:120]!r}; set billing.url to the final address"
            )
        if status != 200:
            raise BillingError(f"{what}: Ubilling answered HTTP {status}; check billing.url")
        return Reply(what, body, content_type, allow_origin)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _describe(exc: BaseException, secret: str) -> str:
    """An exception as one safe line: its class and its text, with any URL redacted."""
    text = redact(str(exc))
    if secret:
        text = text.replace(secret, "***")
    return f"{type(exc).__name__}: {text}"[:300]
