"""One parser per Ubilling request: each accepts exactly the shapes a real Ubilling answers.

Every reply is HTTP 200, errors included, so the body is all there is. Envelope errors and
the pages Ubilling falls back to get a one-line explanation (`UbillingRefused`); any other
body outside the request's known shapes is an UnexpectedReply quoting its first 200
characters, scrubbed of passwords. Parsed subscriber data never keeps the `Password` field.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from billing_client.errors import PhpSerializeError, UbillingRefused, UnexpectedReply
from billing_client.money import CENT
from billing_client.outcomes import CreditReason, CreditResult, LoginMatch, PaycardResult
from billing_client.pause import EquipmentCheck, EquipmentReason, EquipmentStatus, PauseReason
from billing_client.subscriber import Status
from billing_client.ubilling.http import scrub
from billing_client.ubilling.phpserialize import loads

MAX_AMOUNT = Decimal(10) ** 12
"""Ubilling keeps money in MySQL DOUBLEs: a value this large (a corrupt row) is no amount
a kopeck-exact Decimal of ours can carry, so the reply is refused as malformed."""
MAX_UNIX_TIME = 253_402_300_799
"""9999-12-31 23:59:59 UTC: the last instant a date can hold (a later CreditExpire is junk)."""

_LOGIN = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


ENVELOPE_ERRORS: dict[str, str] = {
    "ERROR:GET_WRONG_KEY": "Ubilling refused the key (ERROR:GET_WRONG_KEY); check billing.key, "
    "it is case-sensitive",
    "ERROR:GET_NO_KEY": "Ubilling got no key (ERROR:GET_NO_KEY)",
    "ERROR:NO_UBSERIAL_EXISTS": "Ubilling has no serial yet (ERROR:NO_UBSERIAL_EXISTS)",
    "ERROR:API_DISABLED": "Ubilling's remote API is off (ERROR:API_DISABLED); "
    "set REMOTEAPI_ENABLED=1 in alter.ini",
    "ERROR:GET_NO_ACTION": "Ubilling got no action (ERROR:GET_NO_ACTION)",
    "ERROR: ASTERISK DISABLED": "Ubilling's asterisk API is off (ERROR: ASTERISK DISABLED); "
    "set ASTERISK_ENABLED=1 in alter.ini",
    "ERROR: USERBYNUM DISABLED": "Ubilling's userbynum is off (ERROR: USERBYNUM DISABLED); "
    "set USERBYNUM_ENABLED=1 in alter.ini or billing.use_userbynum = false",
    "ERROR: TELEPONY DISABLED": "Ubilling's telepony is off (ERROR: TELEPONY DISABLED)",
    "ERROR: NOT HAVE NUMBER": "Ubilling got no number (ERROR: NOT HAVE NUMBER)",
    "ERROR: NOT HAVE PARAMETR": "Ubilling got no param (ERROR: NOT HAVE PARAMETR)",
    "ERROR: EMPTY NUMBER": "Ubilling got no number (ERROR: EMPTY NUMBER)",
    "ERROR: MISTAKE PARAMETR": "this Ubilling does not know that param (ERROR: MISTAKE PARAMETR)",
    # pbxbridge's own remoteapi face standing in for Ubilling (askozia_api/remoteapi.py)
    "ERROR: REMOTEAPI MONEY DISABLED": "the pbxbridge answering as Ubilling moves no money "
    "(ERROR: REMOTEAPI MONEY DISABLED); set http.remoteapi_money = true there",
}
HTML_PAGE = (
    "Ubilling answered its HTML login page (no key, or an action this Ubilling does not have)"
)


def refuse_or_unexpected(request: str, body: str, secret: str = "") -> UnexpectedReply:
    """The error for a body outside the request's shapes (to be raised by the caller)."""
    safe = scrub(body, secret)
    stripped = body.strip()
    refusal = envelope_refusal(stripped)
    if refusal is not None:
        return UbillingRefused(request, safe, refusal)
    if stripped.startswith("<?"):
        return UnexpectedReply(request, safe)  # raw PHP source: the web server is misconfigured
    if "<b>Fatal error</b>" in stripped or "<b>Warning</b>" in stripped:
        error = UnexpectedReply(request, safe)
        error.args = (f"{request}: Ubilling answered a PHP error: {error.snippet!r}",)
        return error
    return UnexpectedReply(request, safe)


def envelope_refusal(stripped: str) -> str | None:
    """Why Ubilling refused before running the request, when the (stripped) body is one of
    its envelope's answers: a known error, nothing, its HTML page, or Stargazer down."""
    if stripped in ENVELOPE_ERRORS:
        return ENVELOPE_ERRORS[stripped]
    if not stripped:
        return "Ubilling answered an empty body"
    head = stripped[:400].lower()
    if head.startswith(("<!doctype html", "<html")) or "<title>ubilling</title>" in head:
        return HTML_PAGE
    if stripped.startswith("Stargazer"):
        return "Ubilling says its Stargazer is not running (NOSTGCHECKPID=0)"
    return None


# ---------------------------------------------------------------- subscriber records


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def local_date(stamp: int | None, tz: tzinfo) -> date | None:
    """A unix time Ubilling stored (e.g. CreditExpire) as a local date; 0 means none."""
    return datetime.fromtimestamp(stamp, tz=tz).date() if stamp else None


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One subscriber as Ubilling describes it, minus the password it always sends along."""

    login: str
    cash: Decimal
    credit: Decimal
    passive: bool
    down: bool
    always_online: bool
    tariff: str
    fee: Decimal | None = None
    credit_expire: int | None = None  # unix time; 0 means none
    realname: str | None = None
    mobiles: tuple[str, ...] = ()  # as stored, main mobile first

    @property
    def status(self) -> Status:
        """Ubilling's own rule (PBXNum::getReply)."""
        if self.passive or self.down or not self.always_online:
            return Status.FROZEN
        return Status.ACTIVE if self.cash >= -self.credit else Status.DEBTOR


class _Shape(ValueError):
    """A field is missing or of the wrong type (the reply is then an UnexpectedReply)."""


def _opt_str(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise _Shape(name)
    return value


def _str(record: dict[str, Any], name: str) -> str:
    value = _opt_str(record, name)
    if value is None:
        raise _Shape(name)
    return value


def _opt_decimal(record: dict[str, Any], name: str) -> Decimal | None:
    text = _opt_str(record, name)
    return None if text is None else _decimal(record, name)


def _decimal(record: dict[str, Any], name: str) -> Decimal:
    try:
        value = Decimal(_str(record, name))
    except InvalidOperation:
        raise _Shape(name) from None
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise _Shape(name)
    return value


def _flag(record: dict[str, Any], name: str) -> bool:
    text = _str(record, name)
    if text not in {"0", "1"}:
        raise _Shape(name)
    return text == "1"


def _record(record: Any, *, from_userdata: bool) -> UserRecord:
    """A getuserdata* record (Fee, CreditExpire, ext_mobiles) or a userbynum one (realname)."""
    if not isinstance(record, dict):
        raise _Shape("record")
    mobiles: list[str] = []
    for name in ("mobile", "phone"):
        value = _opt_str(record, name)
        if value:
            mobiles.append(value)
    extra = record.get("ext_mobiles", [])
    if not isinstance(extra, list) or not all(isinstance(m, str) for m in extra):
        raise _Shape("ext_mobiles")
    mobiles.extend(m for m in extra if m)
    expire_text = _opt_str(record, "CreditExpire") if from_userdata else None
    if expire_text is not None and (not expire_text.isdigit() or int(expire_text) > MAX_UNIX_TIME):
        raise _Shape("CreditExpire")
    return UserRecord(
        login=_str(record, "login"),
        cash=_decimal(record, "Cash"),
        credit=_decimal(record, "Credit"),
        passive=_flag(record, "Passive"),
        down=_flag(record, "Down"),
        always_online=_flag(record, "AlwaysOnline"),
        tariff=_opt_str(record, "Tariff") or "",
        fee=_opt_decimal(record, "Fee") if from_userdata else None,
        credit_expire=int(expire_text) if expire_text is not None else None,
        realname=None if from_userdata else _opt_str(record, "realname"),
        mobiles=tuple(mobiles),
    )


def _json(request: str, body: str, secret: str) -> Any:
    """The parsed body, every `Password` Ubilling sends along already dropped."""
    try:
        return _without_passwords(json.loads(body))
    except ValueError:
        raise refuse_or_unexpected(request, body, secret) from None


def _without_passwords(data: Any) -> Any:
    """getuserdata* and userbynum carry the subscriber's password in clear: it goes here,
    at the parse step, before anything can keep, log or quote it."""
    if isinstance(data, dict):
        return {k: _without_passwords(v) for k, v in data.items() if k != "Password"}
    if isinstance(data, list):
        return [_without_passwords(v) for v in data]
    return data


def parse_userdata(body: str, secret: str = "") -> dict[str, UserRecord]:
    """getuserdatabylogin / getuserdatabymobile: `[]`, or records keyed by login."""
    request = "getuserdata"
    data = _json(request, body, secret)
    if data == []:
        return {}
    if not isinstance(data, dict) or not data or "ERROR" in data:
        raise refuse_or_unexpected(request, body, secret)
    try:
        records = {key: _record(value, from_userdata=True) for key, value in data.items()}
    except _Shape as exc:
        raise _field_error(request, body, secret, exc) from None
    if any(key != record.login for key, record in records.items()):
        raise refuse_or_unexpected(request, body, secret)
    return records


def parse_userbynum(body: str, secret: str = "") -> UserRecord | None:
    """userbynum: `{"result":0}` or `{"result":1,"userdata":{…}}` (realname in Cyrillic)."""
    request = "userbynum"
    data = _json(request, body, secret)
    if not isinstance(data, dict) or data.get("result") not in (0, 1):
        raise refuse_or_unexpected(request, body, secret)
    if data["result"] == 0:
        return None
    try:
        return _record(data.get("userdata"), from_userdata=False)
    except _Shape as exc:
        raise _field_error(request, body, secret, exc) from None


def _field_error(request: str, body: str, secret: str, exc: _Shape) -> UnexpectedReply:
    error = UnexpectedReply(request, scrub(body, secret))
    error.args = (f"{request}: field {exc} missing or malformed in {error.snippet!r}",)
    return error


# ---------------------------------------------------------------- status and money


@dataclass(frozen=True, slots=True)
class MoneyReply:
    status: Status
    cash: Decimal
    fee: Decimal


def parse_getmoney(body: str, secret: str = "") -> MoneyReply | None:
    """userstatus&getmoney=1: plain `0` (unknown number) or base64(serialize([code, Cash, Fee]))."""
    request = "userstatus"
    if body == "0":
        return None
    if not _BASE64.fullmatch(body):
        raise refuse_or_unexpected(request, body, secret)
    try:
        value = loads(base64.b64decode(body, validate=True))
    except (binascii.Error, PhpSerializeError):
        raise refuse_or_unexpected(request, body, secret) from None
    if not isinstance(value, dict) or list(value) != [0, 1, 2]:
        raise refuse_or_unexpected(request, body, secret)
    code, cash, fee = value[0], value[1], value[2]
    if code not in {"1", "2", "3"}:
        raise refuse_or_unexpected(request, body, secret)
    amounts: list[Decimal] = []
    for amount in (cash, fee):
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
            raise refuse_or_unexpected(request, body, secret)
        number = Decimal(amount)
        if not number.is_finite() or abs(number) >= MAX_AMOUNT:
            raise refuse_or_unexpected(request, body, secret)
        amounts.append(number)
    assert isinstance(code, str)
    return MoneyReply(Status(int(code)), amounts[0], amounts[1])


# ---------------------------------------------------------------- days left

_DAYS = re.compile(r"-?[0-9]{1,6}")


def parse_days_left(body: str, secret: str = "") -> int | None:
    """getonlinedaysleft (FundsFlow::getOnlineLeftCountFast): a bare integer, the days the
    balance lasts; `-1` (balance below 0) is 0 days; `-2` (the tariff costs nothing) is
    None, no end, as the embedded billing says for a free tariff."""
    if not _DAYS.fullmatch(body):
        raise refuse_or_unexpected("getonlinedaysleft", body, secret)
    days = int(body)
    return None if days == -2 else max(days, 0)


# ---------------------------------------------------------------- names and logins


_NOT_OUR_USER = "ERROR: NOT OUR USER"


def parse_realname(body: str, secret: str = "") -> tuple[str, str] | None:
    """param=realname: `login-TranslitName`, or None for `ERROR: NOT OUR USER`."""
    if body == _NOT_OUR_USER:
        return None
    login, dash, name = body.partition("-")
    if not dash or not _LOGIN.fullmatch(login) or "\n" in name or len(name) > 255:
        raise refuse_or_unexpected("realname", body, secret)
    return login, name


def parse_loginuniq(body: str, secret: str = "") -> tuple[LoginMatch, str | None]:
    """param=loginuniq: the one login owning the number, never a guess among several."""
    if body == _NOT_OUR_USER:
        return LoginMatch.NOTFOUND, None
    if body == "ERROR: USER HAVE MANY LOGINS":
        return LoginMatch.AMBIGUOUS, None
    if not _LOGIN.fullmatch(body):
        raise refuse_or_unexpected("loginuniq", body, secret)
    return LoginMatch.FOUND, body


# ---------------------------------------------------------------- money moves


SETCREDIT_SENTENCES: dict[str, tuple[CreditResult, CreditReason | None]] = {
    "ASTERISK CREDIT SET SUCCESSFULY": (CreditResult.OK, None),
    "ASTERISK CREDIT NOT SET: CASH > 0 OR NOT SET": (CreditResult.DENIED, CreditReason.NOT_NEEDED),
    "ASTERISK CREDIT NOT SET: EMPTY USERDATA": (CreditResult.NOTFOUND, None),
    "ASTERISK CREDIT NOT AVAILABLE: BALANCE LOWER THAN CREDIT LIMIT": (
        CreditResult.DENIED,
        CreditReason.DEBT_TOO_LARGE,
    ),
    "ASTERISK CREDIT NOT AVAILABLE: CREDIT IS CURRENTLY ACTIVE": (
        CreditResult.DENIED,
        CreditReason.ALREADY_IN_CREDIT,
    ),
    "ASTERISK CREDIT NOT AVAILABLE: ALREADY TOOK": (CreditResult.DENIED, CreditReason.MONTH_LIMIT),
    "ASTERISK CREDIT NOT AVAILABLE: NOT PAYED PREVIOUSLY": (
        CreditResult.DENIED,
        CreditReason.NOT_ALLOWED,
    ),
    "ASTERISK CREDIT NOT AVAILABLE: NOT ALLOWED FOR TARIFF": (
        CreditResult.DENIED,
        CreditReason.NOT_ALLOWED,
    ),
}

PAYCARD_SENTENCES: dict[str, PaycardResult] = {
    "ASTERISK PAYCARD PAYMENT SUCCESSFUL": PaycardResult.OK,
    "ASTERISK PAYCARD NOT EXISTS": PaycardResult.INVALID,
    "ASTERISK PAYCARD NUMBER IS EMPTY": PaycardResult.INVALID,
    "ASTERISK PAYCARD PAYMENT UNSUCCESSFUL: EMPTY USERDATA": PaycardResult.NOTFOUND,
}


def parse_setcredit(body: str, secret: str = "") -> tuple[CreditResult, CreditReason | None]:
    try:
        return SETCREDIT_SENTENCES[body]
    except KeyError:
        raise refuse_or_unexpected("setcredit", body, secret) from None


def parse_paycard(body: str, secret: str = "") -> PaycardResult:
    try:
        return PAYCARD_SENTENCES[body]
    except KeyError:
        raise refuse_or_unexpected("paycardpay", body, secret) from None


CALLMEBACK_OK = "OK:CALLMEBACK"
CALLMEBACK_ERRORS: dict[str, str] = {
    "ERROR:CALLMEBACK_DISABLED": "Ubilling's CallMeBack is off (ERROR:CALLMEBACK_DISABLED); "
    "set CALLMEBACK_ENABLED=1 in alter.ini",
    "ERROR:EMPTY_PARAM": "Ubilling got no number (ERROR:EMPTY_PARAM)",
}


def parse_callmeback(body: str, secret: str = "") -> None:
    """action=callmeback: `OK:CALLMEBACK` (the request is in Ubilling's list), else raise."""
    stripped = body.strip()
    if stripped == CALLMEBACK_OK:
        return
    if stripped in CALLMEBACK_ERRORS:
        raise UbillingRefused("callmeback", scrub(body, secret), CALLMEBACK_ERRORS[stripped])
    raise refuse_or_unexpected("callmeback", body, secret)


# ---------------------------------------------------------------- pause, unpause, swstatus

SETPAUSE_OK = "ASTERISK SET PAUSE SUCCESSFUL FOR  "  # two spaces, then the login
SETPAUSE_SENTENCES: dict[str, PauseReason] = {
    "ASTERISK SET PAUSE UNSUCCESSFUL: PAUSE IS CURRENTLY ACTIVE": PauseReason.ALREADY_PAUSED,
    "ASTERISK SET PAUSE UNSUCCESSFUL: NO AVAILABLE FREEZE DAYS LEFT": PauseReason.NO_FREEZE_DAYS,
}
_UNPAUSE = re.compile(
    r"ASTERISK UNPAUSE (?P<verdict>SUCCESSFUL|UNSUCCESSFUL) FOR  (?P<login>\S*) "
    r"FROM MOBILE: (?P<rest>.*)",
    re.DOTALL,
)
_NOT_ACTIVE = ": PAUSE IS NOT ACTIVE"


def parse_setpause(body: str, login: str, secret: str = "") -> PauseReason | None:
    """param=setpause: None when Ubilling says it paused `login` (the login it echoes must
    be the one asked for), else the reason it refused."""
    if body in SETPAUSE_SENTENCES:
        return SETPAUSE_SENTENCES[body]
    if body == SETPAUSE_OK + login:
        return None
    raise refuse_or_unexpected("setpause", body, secret)


def parse_setunpause(body: str, login: str, number: str, secret: str = "") -> PauseReason | None:
    """param=setunpause: None when Ubilling says it resumed `login`, NOT_PAUSED when it says
    the pause was not active. Both echo the login and the number asked with."""
    match = _UNPAUSE.fullmatch(body)
    if match is None or match["login"] != login:
        raise refuse_or_unexpected("setunpause", body, secret)
    if match["verdict"] == "SUCCESSFUL" and match["rest"] == number:
        return None
    if match["verdict"] == "UNSUCCESSFUL" and match["rest"] == number + _NOT_ACTIVE:
        return PauseReason.NOT_PAUSED
    raise refuse_or_unexpected("setunpause", body, secret)


SWSTATUS_ANSWERS: dict[str, tuple[EquipmentStatus, EquipmentReason | None]] = {
    "OK": (EquipmentStatus.OK, None),
    "DIE": (EquipmentStatus.DOWN, None),
    "ERROR: USER NOT HAVE SWITCH": (EquipmentStatus.UNKNOWN, EquipmentReason.NO_SWITCH),
    _NOT_OUR_USER: (EquipmentStatus.UNKNOWN, EquipmentReason.NOTFOUND),
}


def parse_swstatus(body: str, secret: str = "") -> EquipmentCheck:
    """param=swstatus: `OK`, `DIE` (the switch's IP is in SWDEAD), or why it cannot tell."""
    try:
        status, reason = SWSTATUS_ANSWERS[body]
    except KeyError:
        raise refuse_or_unexpected("swstatus", body, secret) from None
    return EquipmentCheck(status, reason)
