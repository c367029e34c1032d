"""The public callback form: `GET /callback` shows it, `POST /callback` asks for a call.

Public and without a CSRF token on purpose: the ISP's own site posts to it, often from a
page it already has (Ubilling's docs/callmeback form: field `callmebackmobile`, honeypot
`lastname`, taken as they are). What a stranger can do with it is make the ISP call a
number, so the abuse is the threat, and every request goes through, in order:

1. the honeypot (`website`, or Ubilling's `lastname`): a field people never see; filled
   in, the request is dropped and answered with the same confirmation as a real one, so a
   bot learns nothing. Drops are logged once per interval, not per request;
2. the number (the one normaliser, primitives.phones): missing or not a phone → 422;
3. the client address's limit (`http.callback_ip_per_hour`; an IPv6 client by its /64)
   → 429; then the number's (`http.callback_number_per_day`, whoever asks) → 429. Both
   are counted in the database (web/rate_limits.py), shared by every instance;
4. the callbacks service itself (callfile_spooler/callbacks.py), which records the request
   with source `web` and the client's address, and refuses a number on the do-not-call
   list (403), one over `callback.max_per_hour` (429) and one whose callback is still
   under way (answered as received: it is).

Pages are server-rendered (web/pages.py) in Ukrainian or English (web/i18n.py), with no
script at all. The field names are an interface (the ISP's pages, the browser test):
`number`, `name`, `comment`, honeypot `website`; `callmebackmobile` and `lastname` too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Final

from aiohttp import hdrs, web
from multidict import MultiMapping

from callfile_spooler.callbacks import CallbackService, Refusal
from callfile_spooler.errors import CallbackError
from primitives.phones import PhoneNormaliser
from web.addresses import client_ip
from web.i18n import Language, translator
from web.pages import page_language, render
from web.rate_limits import Limit, RateLimits, Verdict, ip_subject
from web.settings import HttpSettings
from web.tally import LOG_EVERY, Tally

log = logging.getLogger("pbxbridge.web.callback")

PATH = "/callback"
TEMPLATE = "callback.html"
SOURCE = "web"

NUMBER_FIELDS = ("number", "callmebackmobile")
"""Where the number may come: our form's field, then Ubilling's."""
HONEYPOTS = ("website", "lastname")
"""Fields people never fill in: ours, and the one Ubilling's form hides."""
MAX_NUMBER = 40
MAX_NAME = 80
MAX_COMMENT = 500
"""Longest values shown back in the form (the service keeps its own limits)."""


class Outcome(StrEnum):
    """What became of a submission (counted, and a metric label)."""

    ACCEPTED = "accepted"
    ALREADY = "already_requested"
    HONEYPOT = "honeypot"
    MISSING = "missing_number"
    INVALID = "invalid_number"
    LIMITED_IP = "limited_ip"
    LIMITED_NUMBER = "limited_number"
    TOO_MANY = "too_many"
    DO_NOT_CALL = "do_not_call"
    OFF = "off"


ANSWERS: Final[Mapping[Outcome, str]] = {
    Outcome.ACCEPTED: "We will call you back at %(number)s shortly.",
    Outcome.ALREADY: "We already have your request and will call %(number)s soon.",
    Outcome.HONEYPOT: "We will call you back at %(number)s shortly.",
    Outcome.MISSING: "Please enter your phone number.",
    Outcome.INVALID: "%(number)s is not a phone number we can call. Please check it.",
    Outcome.LIMITED_IP: "Too many requests from your network. Please try again later.",
    Outcome.LIMITED_NUMBER: (
        "Too many requests for this number today. Please try again tomorrow or call us."
    ),
    Outcome.TOO_MANY: (
        "Too many requests for this number today. Please try again tomorrow or call us."
    ),
    Outcome.DO_NOT_CALL: "We cannot call this number back. Please call us.",
    Outcome.OFF: "Callback requests are not taken at the moment. Please call us.",
}
"""What the visitor reads, in English (the message ids of web/i18n.py's catalogs)."""

STATUS: Final[Mapping[Outcome, int]] = {
    Outcome.ACCEPTED: 200,
    Outcome.ALREADY: 200,
    Outcome.HONEYPOT: 200,
    Outcome.MISSING: 422,
    Outcome.INVALID: 422,
    Outcome.LIMITED_IP: 429,
    Outcome.LIMITED_NUMBER: 429,
    Outcome.TOO_MANY: 429,
    Outcome.DO_NOT_CALL: 403,
    Outcome.OFF: 503,
}
DONE = frozenset({Outcome.ACCEPTED, Outcome.ALREADY, Outcome.HONEYPOT})
"""Answered with the confirmation."""
FORM_AGAIN = frozenset({Outcome.MISSING, Outcome.INVALID})
"""Answered with the form, the values kept, to correct them."""

REFUSALS: Final[Mapping[Refusal, Outcome]] = {
    Refusal.DO_NOT_CALL: Outcome.DO_NOT_CALL,
    Refusal.UNDER_WAY: Outcome.ALREADY,
    Refusal.TOO_MANY: Outcome.TOO_MANY,
}


@dataclass
class FormStats:
    """Submissions by outcome since the start (read by the metrics collector)."""

    outcomes: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))


def _field(form: MultiMapping[object], *names: str) -> str:
    """The first non-blank text value among `names` ("" when none: a file is no value)."""
    for name in names:
        for value in form.getall(name, []):
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ""


@dataclass(frozen=True, slots=True)
class Submission:
    """What a POST carries, read once: the facts `form_verdict` and the limits judge."""

    language: Language
    number: str
    """As typed (our field, else Ubilling's), stripped."""
    e164: str
    """The number normalised, or "" when there is none or it is not a phone."""
    honeypot: bool
    ip: str
    values: Mapping[str, str]
    """What the page shows back: the number (normalised when it is a phone), name, comment."""

    @classmethod
    def read(
        cls, request: web.Request, form: MultiMapping[object], phones: PhoneNormaliser
    ) -> Submission:
        number = _field(form, *NUMBER_FIELDS)
        e164 = (phones.normalise(number) if number else None) or ""
        return cls(
            language=page_language(request, chosen=_field(form, "lang")),
            number=number,
            e164=e164,
            honeypot=bool(_field(form, *HONEYPOTS)),
            ip=client_ip(request),
            values={
                "number": e164 or number[:MAX_NUMBER],
                "name": _field(form, "name")[:MAX_NAME],
                "comment": _field(form, "comment")[:MAX_COMMENT],
            },
        )


def form_verdict(asked: Submission) -> Outcome | None:
    """What the form alone decides, in order: a filled honeypot (answered as if accepted,
    the number as it would show it), then a missing number, then one that is no phone.
    None: the request goes on to the limits."""
    if asked.honeypot:
        return Outcome.HONEYPOT
    if not asked.number:
        return Outcome.MISSING
    if not asked.e164:
        return Outcome.INVALID
    return None


class CallbackForm:
    """The form's handlers; `mount` is the `WebParts.callback` hook (web/app.py)."""

    def __init__(
        self,
        callbacks: CallbackService,
        limits: RateLimits,
        settings: HttpSettings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        log_every: float = LOG_EVERY,
    ) -> None:
        self._callbacks = callbacks
        self._limits = limits
        self._per_ip = Limit("form-ip", settings.callback_ip_per_hour, timedelta(hours=1))
        self._per_number = Limit("form-number", settings.callback_number_per_day, timedelta(days=1))
        self.stats = FormStats()
        self._dropped = Tally(
            "callback form", "honeypot submission(s) dropped", log, log_every, monotonic
        )
        self._limited = Tally(
            "callback form", "request(s) over a limit refused", log, log_every, monotonic
        )

    def mount(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.show)
        app.router.add_post(PATH, self.submit)

    async def show(self, request: web.Request) -> web.Response:
        return self._page(request, page_language(request), form=True)

    async def submit(self, request: web.Request) -> web.Response:
        asked = Submission.read(request, await request.post(), self._callbacks.phones)
        outcome = form_verdict(asked)
        verdict: Verdict | None = None
        if outcome is None:
            outcome, verdict = await self._decide(asked)
        elif outcome == Outcome.HONEYPOT:
            self._dropped.note(f"from {asked.ip}")
        return self._answer(request, asked.language, outcome, asked.values, verdict)

    async def _decide(self, asked: Submission) -> tuple[Outcome, Verdict | None]:
        """A number that can be called: the address's limit, then the number's, then the
        callbacks service decide; the verdict of a limit that refused it."""
        verdict = await self._limits.hit(self._per_ip, ip_subject(asked.ip))
        if not verdict.allowed:
            self._limited.note(f"{asked.ip}: over http.callback_ip_per_hour")
            return Outcome.LIMITED_IP, verdict
        verdict = await self._limits.hit(self._per_number, asked.e164)
        if not verdict.allowed:
            self._limited.note(f"{asked.e164} from {asked.ip}: over http.callback_number_per_day")
            return Outcome.LIMITED_NUMBER, verdict
        return await self._request_call(asked), None

    async def _request_call(self, asked: Submission) -> Outcome:
        """What the callbacks service makes of the request (source `web`, the address)."""
        try:
            result = await self._callbacks.request(
                asked.e164,
                name=asked.values["name"] or None,
                comment=asked.values["comment"] or None,
                source=SOURCE,
                client_ip=asked.ip,
            )
        except CallbackError as exc:
            log.warning("callback form: request from %s not recorded: %s", asked.ip, exc)
            return Outcome.OFF
        if result.accepted:
            return Outcome.ACCEPTED
        outcome = REFUSALS.get(result.refusal) if result.refusal else None
        if outcome is None:
            log.warning("callback form: request refused for an unknown reason: %s", result.reason)
            return Outcome.OFF
        return outcome

    def _answer(
        self,
        request: web.Request,
        language: Language,
        outcome: Outcome,
        values: Mapping[str, str],
        verdict: Verdict | None = None,
    ) -> web.Response:
        self.stats.outcomes[outcome] += 1
        message = translator(language)(ANSWERS[outcome], number=values["number"])
        headers: dict[str, str] = {}
        if verdict is not None and not verdict.allowed:
            headers[hdrs.RETRY_AFTER] = str(verdict.retry_after)
        if outcome in DONE:
            return self._page(request, language, done=True, message=message, headers=headers)
        return self._page(
            request,
            language,
            form=outcome in FORM_AGAIN,
            error=message,
            values=values,
            status=STATUS[outcome],
            headers=headers,
        )

    @staticmethod
    def _page(
        request: web.Request,
        language: Language,
        *,
        form: bool = False,
        done: bool = False,
        message: str = "",
        error: str = "",
        values: Mapping[str, str] | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        context = {
            "form": form,
            "done": done,
            "message": message,
            "error": error,
            "values": values or {"number": "", "name": "", "comment": ""},
        }
        return render(request, TEMPLATE, context, language=language, status=status, headers=headers)
