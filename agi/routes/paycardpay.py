"""paycardpay: the caller tops up with a pay card. Fails closed: no answer, no payment.

Invalid or used cards (and wrong PINs) count toward the lockout of the number and the
login; billing errors do not.
"""

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
from billing_client.outcomes import LoginMatch, PaycardOutcome, PaycardResult

log = logging.getLogger("pbxbridge.agi")

COUNTED = frozenset({PaycardResult.INVALID, PaycardResult.USED})


def paycard_variables(outcome: PaycardOutcome, reason: str = "") -> dict[str, str]:
    return {
        "PAYCARD_RESULT": str(outcome.result),
        "PAYCARD_REASON": reason,
        "PAYCARD_AMOUNT": money(outcome.amount),
        "SUBSCRIBER_BALANCE": money(outcome.balance),
    }


@leaves_on_error(paycard_variables(PaycardOutcome(PaycardResult.ERROR)))
async def paycardpay(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    outcome, reason = await _decide(deps, request, session)
    log.info(
        "AGI %s paycardpay: %s %s amount %s balance %s%s",
        request.uniqueid or "-",
        outcome.login or "-",
        outcome.result,
        money(outcome.amount) or "-",
        money(outcome.balance) or "-",
        f" ({reason or outcome.error})" if reason or outcome.error else "",
    )
    await set_variables(session, paycard_variables(outcome, reason))


async def _card(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> str:
    given = request.query.get("card") or (request.args[0] if request.args else "")
    if given:
        return given
    return await session.get_data(
        deps.settings.paycard_prompt, deps.settings.input_timeout_ms, deps.settings.paycard_digits
    )


async def _decide(
    deps: RouteDeps, request: AgiRequest, session: AgiSession
) -> tuple[PaycardOutcome, str]:
    number = money_number(request, deps)
    try:
        match, login = await deps.billing.login_for_money(number)
    except BillingError as exc:
        return PaycardOutcome(PaycardResult.ERROR, error=str(exc)), ""
    if login is None or match != LoginMatch.FOUND:
        return PaycardOutcome(PaycardResult.NOTFOUND), str(match)
    normalised = deps.billing.phones.normalise(number)
    refused = await _pin_gate(deps, request, session, normalised, login)
    if refused is not None:
        return refused
    card = await _card(deps, request, session)
    if not card:
        return PaycardOutcome(PaycardResult.INVALID, login=login), "NO_INPUT"
    outcome = await deps.money_move(
        deps.billing.pay_card(card, login=login, source=call_source(request, normalised or number))
    )
    if outcome.result in COUNTED:
        # The guard logs (and tells staff) when this failure locks the number and login.
        await deps.lockout.record_failure(normalised, login, str(outcome.result))
    return outcome, ""


async def _pin_gate(
    deps: RouteDeps, request: AgiRequest, session: AgiSession, number: str | None, login: str
) -> tuple[PaycardOutcome, str] | None:
    """The lockout, then the PIN: why the caller may not pay now, or None when they may."""
    if await deps.lockout.locked_until(number, login):
        return PaycardOutcome(PaycardResult.LOCKED, login=login), ""
    try:
        pin = await check_pin(deps, request, session, number=number, login=login)
    except BillingError as exc:
        return PaycardOutcome(PaycardResult.ERROR, login=login, error=str(exc)), ""
    if pin == PinCheck.LOCKED:
        return PaycardOutcome(PaycardResult.LOCKED, login=login), str(pin)
    if pin != PinCheck.OK:
        return PaycardOutcome(PaycardResult.INVALID, login=login), str(pin)
    return None
