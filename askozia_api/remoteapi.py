"""Ubilling's remoteapi, served from pbxbridge's billing: `GET /?module=remoteapi&key=…`.

Scripts written for Ubilling (a dialplan's `${CURL(…&action=asterisk&param=userstatus)}`,
an old Askozia script asking `askozianum`, a CRM asking `userbynum`, pbxbridge's own
Ubilling backend) get the bodies a real Ubilling 1.6.4 answers for the same data, byte for
byte (tests/fixtures/ubilling-live-responses.md), at `/` and at `/billing/`.

The envelope, as modules/general/remoteapi/index.php: every answer is HTTP 200 with PHP's
`text/html; charset=UTF-8`; no `key` → `ERROR:GET_NO_KEY`; a key that is not the configured
one after Ubilling's vf() stripping (compared in constant time) → `ERROR:GET_WRONG_KEY`; no
`action` → `ERROR:GET_NO_ACTION`; an action pbxbridge does not serve → an empty body (no
handler printed anything). Flags are PHP empty(): `ignorecache=0` is not set.

Where pbxbridge differs on purpose (README, "Ubilling and Askozia, pointed at pbxbridge"):
- numbers go through pbxbridge's one normaliser (E.164, exact), not Ubilling's three
  matching algorithms; the `login`/`realname` last-10-characters match and the `LIKE`
  search of `getuserdata*` give the same answers for numbers stored in a usual form;
- the billing failing is HTTP 503 `ERROR: BILLING UNAVAILABLE` (Ubilling has no such
  state; a client must not read it as "not our user");
- `setcredit` and `paycardpay` act only with `http.remoteapi_money = true` (else
  `ERROR: REMOTEAPI MONEY DISABLED`), by the IVR's rules: the credit is at most the
  IVR's (billing.credit_amount, else the tariff fee) for billing.credit_days days, cards
  count toward the IVR's lockout, every move is journalled with the source `remoteapi` and
  the client's address;
- no `Password` is ever answered; no key is ever revealed (`action=identify` is not served).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from aiohttp import web

from askozia_api import records
from askozia_api.deps import RemoteApiDeps
from askozia_api.errors import BillingUnavailable
from askozia_api.php import (
    digits,
    php_empty,
    php_json,
    php_trim,
    realname_translit,
    serialize_getmoney,
    vf,
)
from billing_client.outcomes import (
    BillingResult,
    CreditOutcome,
    CreditReason,
    CreditResult,
    LoginMatch,
    Lookup,
    MoneySource,
    PaycardResult,
)
from billing_client.subscriber import SubscriberInfo
from callfile_spooler.errors import CallbackError
from web.addresses import client_ip

log = logging.getLogger("pbxbridge.faces")

PATHS = ("/", "/billing/")
FACE = "remoteapi"

HTML_TYPE = "text/html; charset=UTF-8"
JSON_TYPE = "application/json; charset=UTF-8"

NOT_OUR_USER = "ERROR: NOT OUR USER"
MISTAKE = "ERROR: MISTAKE PARAMETR"
BILLING_DOWN = "ERROR: BILLING UNAVAILABLE"
MONEY_OFF = "ERROR: REMOTEAPI MONEY DISABLED"

CREDIT_EMPTY = "ASTERISK CREDIT NOT SET: EMPTY USERDATA"
CREDIT_SENTENCES: dict[CreditReason | None, str] = {
    None: "ASTERISK CREDIT SET SUCCESSFULY",
    CreditReason.NOT_NEEDED: "ASTERISK CREDIT NOT SET: CASH > 0 OR NOT SET",
    CreditReason.DEBT_TOO_LARGE: "ASTERISK CREDIT NOT AVAILABLE: BALANCE LOWER THAN CREDIT LIMIT",
    CreditReason.ALREADY_IN_CREDIT: "ASTERISK CREDIT NOT AVAILABLE: CREDIT IS CURRENTLY ACTIVE",
    CreditReason.MONTH_LIMIT: "ASTERISK CREDIT NOT AVAILABLE: ALREADY TOOK",
    # Ubilling has no sentence for these; a policy refusal is the nearest it has.
    CreditReason.NOT_ALLOWED: "ASTERISK CREDIT NOT AVAILABLE: NOT ALLOWED FOR TARIFF",
    CreditReason.FROZEN: "ASTERISK CREDIT NOT AVAILABLE: NOT ALLOWED FOR TARIFF",
    CreditReason.AMBIGUOUS_NUMBER: "ASTERISK CREDIT NOT AVAILABLE: NOT ALLOWED FOR TARIFF",
}
PAYCARD_EMPTY = "ASTERISK PAYCARD NUMBER IS EMPTY"
PAYCARD_NO_USER = "ASTERISK PAYCARD PAYMENT UNSUCCESSFUL: EMPTY USERDATA"
PAYCARD_SENTENCES: dict[PaycardResult, str] = {
    PaycardResult.OK: "ASTERISK PAYCARD PAYMENT SUCCESSFUL",
    PaycardResult.NOTFOUND: PAYCARD_NO_USER,
    # A used, unknown or inactive card, and a locked login, all look alike to a guesser.
    PaycardResult.INVALID: "ASTERISK PAYCARD NOT EXISTS",
    PaycardResult.USED: "ASTERISK PAYCARD NOT EXISTS",
    PaycardResult.LOCKED: "ASTERISK PAYCARD NOT EXISTS",
}
COUNTED = frozenset({PaycardResult.INVALID, PaycardResult.USED})
"""Card results that count toward the lockout, as on the phone."""

_MONEY = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?")

Query = Mapping[str, str]

FUNDS = frozenset({"getonlinedaysleft", "getvservicescount", "getuserspends", "getcontragentdata"})
"""The params that name the subscriber by `login` or, without one, by `number`."""


@dataclass(frozen=True, slots=True)
class AsteriskAsk:
    """What `action=asterisk` asks: `param`, the number (trimmed) and the login ("" when PHP's
    empty() finds none), with the whole query for the fields only one param reads."""

    param: str
    number: str
    login: str
    query: Query


AsteriskParam = Callable[[web.Request, AsteriskAsk], Awaitable[str]]
"""The answer to one `param` of action=asterisk."""


def php_get(request: web.Request) -> dict[str, str]:
    """$_GET: the query decoded (`+` is a space), the last of a repeated name winning."""
    return dict(request.rel_url.query.items())


def text(body: str, status: int = 200) -> web.Response:
    """An answer as PHP's die() sends it: the body alone, text/html, no newline."""
    return web.Response(
        status=status,
        body=body.encode(),
        headers={"Content-Type": HTML_TYPE, "Cache-Control": "no-store"},
    )


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class RemoteApi:
    """The handler behind `/` and `/billing/` (see the module notes)."""

    def __init__(self, deps: RemoteApiDeps) -> None:
        if not deps.key:
            raise ValueError("the remoteapi face needs a key (http.remoteapi_key)")
        self._deps = deps
        self._key = _digest(deps.key)
        self._billing = deps.billing
        self._actions: dict[str, Callable[[web.Request, Query], Awaitable[web.Response]]] = {
            "asterisk": self._asterisk,
            "askozianum": self._askozianum,
            "telepony": self._telepony,
            "userbynum": self._userbynum,
            "callmeback": self._callmeback,
        }
        # action=asterisk's params; any other (login, realname, swstatus, …) is _info's.
        self._params: dict[str, AsteriskParam] = {
            "userstatus": lambda _, a: self._status(
                a.number, getmoney=not php_empty(a.query.get("getmoney"))
            ),
            "setcredit": lambda r, a: self._setcredit(r, a.login, a.query.get("money")),
            "paycardpay": lambda r, a: self._paycardpay(r, a.login, a.query.get("paycardnum")),
            "getuserdatabylogin": lambda _, a: self._userdata_by_login(
                a.login, a.query.get("userpass")
            ),
            "getuserdatabymobile": lambda _, a: self._userdata_by_mobile(a.number),
            "getcontractsbymobile": lambda _, a: self._contracts_by_mobile(a.number),
            "loginuniq": lambda _, a: self._loginuniq(a.number),
            **dict.fromkeys(FUNDS, lambda _, a: self._funds_of(a)),
        }

    def mount(self, app: web.Application) -> None:
        for path in PATHS:
            # PHP reads $_GET whatever the method: a POST with the query string works too
            app.router.add_route("*", path, self.handle)

    # ------------------------------------------------------------------ the envelope

    async def handle(self, request: web.Request) -> web.Response:
        q = php_get(request)
        if q.get("module") != "remoteapi":
            raise web.HTTPNotFound(text="not found: this is the remoteapi face (?module=remoteapi)")
        if "key" not in q:
            self._deps.failures.note(FACE, client_ip(request), "no key")
            return text("ERROR:GET_NO_KEY")
        if not hmac.compare_digest(_digest(vf(q["key"])), self._key):
            self._deps.failures.note(FACE, client_ip(request), "wrong key")
            return text("ERROR:GET_WRONG_KEY")
        if "action" not in q:
            return text("ERROR:GET_NO_ACTION")
        action = self._actions.get(q["action"])
        if action is None:
            return text("")  # every handler file looked, none printed
        try:
            return await action(request, q)
        except BillingUnavailable as exc:
            log.warning("remoteapi %s: the billing did not answer: %s", q["action"], exc)
            return text(BILLING_DOWN, status=503)

    # ------------------------------------------------------------------ lookups

    async def _by_number(self, raw: str) -> SubscriberInfo | None:
        return _subscriber(await self._billing.by_number(php_trim(raw)))

    async def _by_login(self, login: str) -> SubscriberInfo | None:
        return _subscriber(await self._billing.by_login(login))

    async def _status(self, raw: str, *, getmoney: bool = False) -> str:
        """PBXNum::getReply: `0`..`3`, or with getmoney the base64 serialized array (a plain
        `0` for a number nobody owns). A real call: asked as one (the stale answer stands in
        while the billing fails)."""
        lookup = await self._billing.lookup_call(php_trim(raw), details=False)
        info = _subscriber(lookup)
        if info is None:
            return "0"
        code = str(int(info.status))
        if not getmoney:
            return code
        return base64.b64encode(serialize_getmoney(code, info.balance, info.fee).encode()).decode()

    # ------------------------------------------------------------------ action=asterisk

    async def _asterisk(self, request: web.Request, q: Query) -> web.Response:
        if php_empty(q.get("number")) and php_empty(q.get("login")):
            return text("ERROR: NOT HAVE NUMBER")
        if php_empty(q.get("param")):
            return text("ERROR: NOT HAVE PARAMETR")
        ask = AsteriskAsk(
            param=q["param"],
            number=php_trim(q.get("number", "")),
            login="" if php_empty(q.get("login")) else q["login"],
            query=q,
        )
        answer = self._params.get(ask.param)
        if answer is None:  # login, realname, swstatus and the default: who owns the number
            return text(await self._info(ask.param, ask.number))
        return text(await answer(request, ask))

    async def _userdata_by_mobile(self, number: str) -> str:
        found = await self._by_number(number) if number else None
        return self._userdata([found] if found else [])

    async def _contracts_by_mobile(self, number: str) -> str:
        found = await self._by_number(number) if number else None
        return php_json([None] if found else [])  # pbxbridge keeps no contracts

    async def _funds_of(self, ask: AsteriskAsk) -> str:
        """The FUNDS params: the subscriber by `login`, else by `number`."""
        who = await self._by_login(ask.login) if ask.login else await self._by_number(ask.number)
        return self._funds(ask.param, who)

    async def _loginuniq(self, number: str) -> str:
        """Asterisk::AsteriskGetInfoApi's loginuniq: the one login owning the number;
        refused when several do."""
        match, login = await self._billing.login_for_money(number)
        if match == LoginMatch.AMBIGUOUS:
            return "ERROR: USER HAVE MANY LOGINS"
        return login if match == LoginMatch.FOUND and login else NOT_OUR_USER

    async def _info(self, param: str, number: str) -> str:
        """Asterisk::AsteriskGetInfoApi: the login, `login-Translit Name`, the switch
        (pbxbridge knows none), or `ERROR: MISTAKE PARAMETR` for a param it does not serve
        (setpause, setunpause, addusermobile, …) when the number is known."""
        info = await self._by_number(number)
        if info is None or not info.login:
            return NOT_OUR_USER
        if param == "login":
            return info.login
        if param == "realname":
            return f"{info.login}-{realname_translit(info.name)}"
        if param == "swstatus":
            return "ERROR: USER NOT HAVE SWITCH"
        return MISTAKE

    async def _userdata_by_login(self, login: str, userpass: str | None) -> str:
        if not php_empty(userpass):
            # pbxbridge keeps no subscriber passwords: nothing can pass this check.
            return php_json({"ERROR": "Auth failed"})
        info = await self._by_login(login) if login else None
        return self._userdata([info] if info else [])

    def _userdata(self, found: list[SubscriberInfo]) -> str:
        data = {i.login: records.userdata(i, self._billing.phones, self._deps.clock) for i in found}
        return php_json(data if data else [])

    def _funds(self, param: str, info: SubscriberInfo | None) -> str:
        if param == "getcontragentdata":
            return "[]"  # no contragents in pbxbridge
        if param == "getvservicescount":
            return "0"  # no virtual services either
        if param == "getuserspends":
            if info is None:
                return "[]"
            fee, period = records.tariff_fee(info)
            return php_json({info.tariff: {"price": fee, "daysperiod": period}})
        if info is None:
            return "0"  # FundsFlow without data
        if not info.known("days_left"):
            raise BillingUnavailable("the billing did not tell the days left")
        return records.days_left_reply(info)

    # ------------------------------------------------------------------ money moves

    def _source(self, request: web.Request) -> MoneySource:
        return MoneySource(kind="remoteapi", user=client_ip(request))

    async def _setcredit(self, request: web.Request, login: str, money: str | None) -> str:
        if not self._deps.money:
            return MONEY_OFF
        if not login:
            return CREDIT_EMPTY
        info = await self._by_login(login)
        if info is None:
            return CREDIT_EMPTY
        limit = self._deps.credit_amount if self._deps.credit_amount is not None else info.fee
        amount: Decimal | None = None
        if not php_empty(money):
            assert money is not None
            amount = _amount(money)
            if amount is None or amount > limit:
                log.info(
                    "remoteapi setcredit for %s from %s refused: money=%r is not an amount "
                    "up to the IVR's credit %s",
                    login,
                    client_ip(request),
                    money[:20],
                    limit,
                )
                return CREDIT_SENTENCES[CreditReason.NOT_ALLOWED]
        outcome: CreditOutcome = await self._deps.run_move(
            self._billing.set_credit(login=info.login, amount=amount, source=self._source(request))
        )
        if outcome.result == CreditResult.ERROR:
            raise BillingUnavailable(outcome.error or "credit failed")
        if outcome.result == CreditResult.NOTFOUND:
            return CREDIT_EMPTY
        return CREDIT_SENTENCES[outcome.reason if outcome.result != CreditResult.OK else None]

    async def _paycardpay(self, request: web.Request, login: str, card: str | None) -> str:
        if not self._deps.money:
            return MONEY_OFF
        if php_empty(card):
            return PAYCARD_EMPTY
        if not login:
            return PAYCARD_NO_USER
        assert card is not None
        info = await self._by_login(login)
        if info is None:
            return PAYCARD_NO_USER
        guard = self._deps.guard
        if guard is not None and await guard.locked_until(None, info.login):
            log.info("remoteapi paycardpay for %s from %s: locked", login, client_ip(request))
            return PAYCARD_SENTENCES[PaycardResult.LOCKED]
        outcome = await self._deps.run_move(
            self._billing.pay_card(vf(card), login=info.login, source=self._source(request))
        )
        if outcome.result == PaycardResult.ERROR:
            raise BillingUnavailable(outcome.error or "paycard failed")
        if outcome.result in COUNTED and guard is not None:
            await guard.record_failure(None, info.login, str(outcome.result))
        return PAYCARD_SENTENCES[outcome.result]

    # ------------------------------------------------------------------ other actions

    async def _askozianum(self, request: web.Request, q: Query) -> web.Response:
        """The action Askozia's script called (removed from Ubilling in 1.5.9): userstatus
        without getmoney, the number in `param`."""
        if php_empty(q.get("param")):
            return text("ERROR: EMPTY PARAM")
        return text(await self._status(q["param"]))

    async def _telepony(self, request: web.Request, q: Query) -> web.Response:
        if php_empty(q.get("number")):
            return text("ERROR: EMPTY NUMBER")
        return text(await self._status(q["number"]))

    async def _userbynum(self, request: web.Request, q: Query) -> web.Response:
        if php_empty(q.get("number")):
            return text("ERROR: EMPTY NUMBER")
        info = await self._by_number(q["number"])
        body: dict[str, object] = {"result": 0}
        if info is not None:
            body = {"result": 1, "userdata": records.userbynum_record(info, self._billing.phones)}
        return web.Response(
            body=php_json(body).encode(),
            headers={
                "Content-Type": JSON_TYPE,
                "Access-Control-Allow-Origin": "*",
                "Cache-Control": "no-store",
            },
        )

    async def _callmeback(self, request: web.Request, q: Query) -> web.Response:
        """CallMeBack::createCall: digits only; `OK:CALLMEBACK` whether or not a request
        could be made of them (as Ubilling), which the callbacks service then checks by its
        usual rules (limits, do-not-call list) and records either way."""
        callbacks = self._deps.callbacks
        if callbacks is None or not callbacks.settings.enabled:
            return text("ERROR:CALLMEBACK_DISABLED")
        if php_empty(q.get("param")):
            return text("ERROR:EMPTY_PARAM")
        number = digits(q["param"])
        if number:
            try:
                result = await callbacks.request(number, source=f"remoteapi {client_ip(request)}")
            except CallbackError as exc:
                log.info("remoteapi callmeback from %s: %s", client_ip(request), exc)
            else:
                log.info("remoteapi callmeback from %s: %s", client_ip(request), result.describe())
        return text("OK:CALLMEBACK")


def _subscriber(lookup: Lookup) -> SubscriberInfo | None:
    if lookup.result == BillingResult.ERROR:
        raise BillingUnavailable(lookup.error or "billing error")
    return lookup.subscriber if lookup.result == BillingResult.OK else None


def _amount(text_: str) -> Decimal | None:
    """`money=`: a positive amount with at most two decimals, else None."""
    value = text_.strip()
    if not _MONEY.fullmatch(value):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already checked it
        return None
    return amount if amount > 0 else None


def remoteapi_face(deps: RemoteApiDeps) -> Callable[[web.Application], None]:
    """The Mount for WebParts.faces."""
    return RemoteApi(deps).mount
