"""Pieces the routes share: which number a route acts on, variables, saying money, the PIN."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from agi.errors import AgiError
from agi.request import AgiRequest
from agi.routes.deps import LookupSeen, RouteDeps
from agi.session import AgiSession
from billing_client.errors import BillingError
from billing_client.outcomes import BillingResult, Lookup, MoneySource
from billing_client.subscriber import SubscriberInfo

log = logging.getLogger("pbxbridge.agi")

MINUS_PROMPT = "digits/minus"
AND_PROMPT = "vm-and"


def lookup_number(request: AgiRequest) -> str:
    """The number a lookup asks about: ?number=, else agi_arg_1, else the CallerID."""
    return (
        request.query.get("number")
        or (request.args[0] if request.args else "")
        or (request.callerid)
    )


def money_number(request: AgiRequest, deps: RouteDeps) -> str:
    """The number whose money moves: the caller, or ?number= when agi.trust_args is on."""
    if deps.settings.trust_args and request.query.get("number"):
        return request.query["number"]
    return request.callerid


def call_source(request: AgiRequest, number: str) -> MoneySource:
    return MoneySource(kind="call", number=number or None, uniqueid=request.uniqueid or None)


def flag(request: AgiRequest, name: str) -> bool:
    return request.query.get(name, "").lower() in {"1", "yes", "true", "on"}


async def set_variables(session: AgiSession, variables: Mapping[str, str]) -> None:
    for name, value in variables.items():
        await session.set_variable(name, value)


Route = Callable[[RouteDeps, AgiRequest, AgiSession], Awaitable[None]]
D = TypeVar("D")
AnyRoute = Callable[[D, AgiRequest, AgiSession], Awaitable[None]]
"""A route of agi's (given RouteDeps) or of another room (given what it needs)."""


def leaves_on_error(variables: Mapping[str, str]) -> Callable[[AnyRoute[D]], AnyRoute[D]]:
    """Declare what a route leaves on the channel when it fails unexpectedly.

    A bug or a database error inside a route must not send the call on with no variables
    at all (the dialplan would read empty values as "no answer yet"): the route's result
    variables that it had not set yet are set to `variables` (its ERROR), then the
    exception goes on to the server, which logs it. AGI errors pass untouched: the
    channel is gone or out of step and nothing more can be set.
    """

    def decorate(route: AnyRoute[D]) -> AnyRoute[D]:
        @functools.wraps(route)
        async def guarded(deps: D, request: AgiRequest, session: AgiSession) -> None:
            try:
                await route(deps, request, session)
            except AgiError:
                raise
            except Exception:
                missing = {k: v for k, v in variables.items() if k not in session.variables_set}
                if missing and not session.closed:
                    try:
                        await set_variables(session, missing)
                    except AgiError as exc:
                        log.info("AGI %s: result not set, %s", request.uniqueid or "-", exc)
                raise

        return guarded

    return decorate


LOOKUP_FAILED = {
    "SUBSCRIBER_STATUS": "0",
    "SUBSCRIBER_LOGIN": "",
    "BILLING_RESULT": str(BillingResult.ERROR),
    "BILLING_SOURCE": "none",
}
"""What a lookup route leaves when it fails inside pbxbridge: no answer was used."""


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def status_variables(lookup: Lookup) -> dict[str, str]:
    info = lookup.subscriber
    return {
        "SUBSCRIBER_STATUS": str(int(info.status)) if info else "0",
        "SUBSCRIBER_LOGIN": info.login if info else "",
        "BILLING_RESULT": str(lookup.result),
        "BILLING_SOURCE": lookup.source,
    }


def detail_variables(info: SubscriberInfo | None) -> dict[str, str]:
    """Empty without a subscriber; a detail the billing could not tell this time is left
    unset (not emptied), so the dialplan keeps whatever default it gave it."""
    if info is None:
        return dict.fromkeys(DETAIL_FIELDS, "")
    values = {
        "SUBSCRIBER_NAME": info.name,
        "SUBSCRIBER_BALANCE": money(info.balance),
        "SUBSCRIBER_CREDIT": money(info.credit),
        "SUBSCRIBER_FEE": money(info.fee),
        "SUBSCRIBER_TARIFF": info.tariff,
        "SUBSCRIBER_DAYS_LEFT": "" if info.days_left is None else str(info.days_left),
    }
    return {name: text for name, text in values.items() if info.known(DETAIL_FIELDS[name])}


DETAIL_FIELDS = {
    "SUBSCRIBER_NAME": "name",
    "SUBSCRIBER_BALANCE": "balance",
    "SUBSCRIBER_CREDIT": "credit",
    "SUBSCRIBER_FEE": "fee",
    "SUBSCRIBER_TARIFF": "tariff",
    "SUBSCRIBER_DAYS_LEFT": "days_left",
}
"""Each detail variable and the SubscriberInfo field it shows."""


async def lookup(deps: RouteDeps, request: AgiRequest, route: str, *, details: bool) -> Lookup:
    """The caller's lookup, logged in one line. `details`: whether the route sets detail
    variables (name, money, tariff, days); a route setting the status only says False, so
    a billing that pays a request per detail (Ubilling) is asked once."""
    number = lookup_number(request)
    result = await deps.billing.lookup_call(
        number, uniqueid=request.uniqueid, deadline=deps.settings.lookup_timeout, details=details
    )
    info = result.subscriber
    log.info(
        "AGI %s %s: number %r -> %s status %s login %s (%s)%s",
        request.uniqueid or "-",
        route,
        number,
        result.result,
        int(info.status) if info else 0,
        _login_shown(info),
        result.source,
        f": {result.error}" if result.result == BillingResult.ERROR else "",
    )
    if deps.on_lookup is not None and request.uniqueid:
        try:
            deps.on_lookup(LookupSeen(request.uniqueid, number, route, result))
        except Exception:
            log.exception("AGI %s: on_lookup failed", request.uniqueid)
    return result


def _login_shown(info: SubscriberInfo | None) -> str:
    """`-` for no subscriber, `?` for one whose login was not asked or not answered."""
    if info is None:
        return "-"
    return info.login if info.known("login") and info.login else "?"


async def use_language(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    """Prompts play in agi.language; the channel's language is changed only when it differs."""
    if request.language != deps.settings.language:
        await session.set_variable("CHANNEL(language)", deps.settings.language)


async def say_amount(deps: RouteDeps, session: AgiSession, amount: Decimal) -> None:
    """Intro prompt, "minus" when negative, whole units with SAY NUMBER, then the cents."""
    if deps.settings.balance_prompt:
        await session.stream_file(deps.settings.balance_prompt)
    if amount < 0:
        await session.stream_file(MINUS_PROMPT)
    units, cents = divmod(int(abs(amount) * 100), 100)
    await session.say_number(units)
    if cents:
        await session.stream_file(AND_PROMPT)
        await session.say_number(cents)


class PinCheck(StrEnum):
    OK = "OK"
    WRONG_PIN = "WRONG_PIN"
    PIN_NOT_SET = "PIN_NOT_SET"
    LOCKED = "LOCKED"


async def check_pin(
    deps: RouteDeps,
    request: AgiRequest,
    session: AgiSession,
    *,
    number: str | None,
    login: str,
) -> PinCheck:
    """Ask for the PIN when agi.require_pin is on. A wrong PIN counts toward the lockout."""
    if not deps.settings.require_pin:
        return PinCheck.OK
    digits = await session.get_data(
        deps.settings.pin_prompt, deps.settings.input_timeout_ms, deps.settings.pin_digits
    )
    try:
        verdict = await deps.billing.verify_pin(login, digits)
    except BillingError as exc:
        log.error("AGI %s: PIN check for %s failed: %s", request.uniqueid, login, exc)
        raise
    if verdict is None:
        log.warning("AGI %s: %s has no PIN and agi.require_pin is on", request.uniqueid, login)
        return PinCheck.PIN_NOT_SET
    if verdict:
        return PinCheck.OK
    locked = await deps.lockout.record_failure(number, login, "pin")
    log.warning(
        "AGI %s: wrong PIN for %s from %s%s",
        request.uniqueid,
        login,
        number,
        " (now locked)" if locked else "",
    )
    return PinCheck.LOCKED if locked else PinCheck.WRONG_PIN
