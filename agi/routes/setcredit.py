"""setcredit: the caller takes a self-service credit. Fails closed: no answer, no credit."""

from __future__ import annotations

import logging

from agi.request import AgiRequest
from agi.routes.common import (
    PinCheck,
    call_source,
    check_pin,
    leaves_on_error,
    money,
    money_number,
    set_variables,
)
from agi.routes.deps import RouteDeps
from agi.session import AgiSession
from billing_client.errors import BillingError
from billing_client.outcomes import CreditOutcome, CreditReason, CreditResult, LoginMatch

log = logging.getLogger("pbxbridge.agi")


def credit_variables(outcome: CreditOutcome, reason: str | None = None) -> dict[str, str]:
    return {
        "CREDIT_RESULT": str(outcome.result),
        "CREDIT_REASON": reason or (str(outcome.reason) if outcome.reason else ""),
        "CREDIT_AMOUNT": money(outcome.amount),
        "CREDIT_EXPIRE": outcome.expire.isoformat() if outcome.expire else "",
    }


@leaves_on_error(credit_variables(CreditOutcome(CreditResult.ERROR)))
async def setcredit(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    outcome, reason = await _decide(deps, request, session)
    log.info(
        "AGI %s setcredit: %s %s amount %s until %s%s",
        request.uniqueid or "-",
        outcome.login or "-",
        outcome.result,
        money(outcome.amount) or "-",
        outcome.expire or "-",
        f" ({reason or outcome.reason or outcome.error})" if outcome.result != "OK" else "",
    )
    await set_variables(session, credit_variables(outcome, reason))


async def _decide(
    deps: RouteDeps, request: AgiRequest, session: AgiSession
) -> tuple[CreditOutcome, str | None]:
    number = money_number(request, deps)
    try:
        match, login = await deps.billing.login_for_money(number)
    except BillingError as exc:
        return CreditOutcome(CreditResult.ERROR, error=str(exc)), None
    if match == LoginMatch.AMBIGUOUS:
        return CreditOutcome(CreditResult.DENIED, CreditReason.AMBIGUOUS_NUMBER), None
    if login is None:
        return CreditOutcome(CreditResult.NOTFOUND), None
    normalised = deps.billing.phones.normalise(number)
    if deps.settings.require_pin:
        refused = await _pin_gate(deps, request, session, normalised, login)
        if refused is not None:
            return refused
    outcome = await deps.money_move(
        deps.billing.set_credit(login=login, source=call_source(request, normalised or number))
    )
    return outcome, None


async def _pin_gate(
    deps: RouteDeps, request: AgiRequest, session: AgiSession, number: str | None, login: str
) -> tuple[CreditOutcome, str | None] | None:
    """The lockout, then the PIN (agi.require_pin): why the caller may not take a credit
    now, or None when they may."""
    if await deps.lockout.locked_until(number, login):
        return CreditOutcome(CreditResult.DENIED, login=login), "LOCKED"
    try:
        pin = await check_pin(deps, request, session, number=number, login=login)
    except BillingError as exc:
        return CreditOutcome(CreditResult.ERROR, login=login, error=str(exc)), None
    if pin != PinCheck.OK:
        return CreditOutcome(CreditResult.DENIED, login=login), str(pin)
    return None
