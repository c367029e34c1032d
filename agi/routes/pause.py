"""pause / unpause: the caller freezes or unfreezes their own service. Fails closed.

Same footing as a money move: it acts on the caller only (`agi.trust_args` aside), the
login is the one owning the number (a number shared by several logins is refused), the
PIN is asked when `agi.require_pin` (a wrong one counts toward the lockout) and the change
lands in the audit journal with the call as its source.
"""

from __future__ import annotations

import logging

from agi.request import AgiRequest
from agi.routes.common import (
    PinCheck,
    call_source,
    check_pin,
    leaves_on_error,
    money_number,
    set_variables,
)
from agi.routes.deps import RouteDeps
from agi.session import AgiSession
from billing_client.errors import BillingError
from billing_client.outcomes import LoginMatch
from billing_client.pause import PauseOutcome, PauseReason, PauseResult

log = logging.getLogger("pbxbridge.agi")


def pause_variables(outcome: PauseOutcome, reason: str | None = None) -> dict[str, str]:
    return {
        "PAUSE_RESULT": str(outcome.result),
        "PAUSE_REASON": reason or (str(outcome.reason) if outcome.reason else ""),
    }


FAILED = pause_variables(PauseOutcome(PauseResult.ERROR))


async def _run(deps: RouteDeps, request: AgiRequest, session: AgiSession, *, paused: bool) -> None:
    outcome, reason = await _decide(deps, request, session, paused=paused)
    log.info(
        "AGI %s %s: %s %s%s",
        request.uniqueid or "-",
        "pause" if paused else "unpause",
        outcome.login or "-",
        outcome.result,
        f" ({reason or outcome.reason or outcome.error})" if outcome.result != "OK" else "",
    )
    await set_variables(session, pause_variables(outcome, reason))


@leaves_on_error(FAILED)
async def pause(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    await _run(deps, request, session, paused=True)


@leaves_on_error(FAILED)
async def unpause(deps: RouteDeps, request: AgiRequest, session: AgiSession) -> None:
    await _run(deps, request, session, paused=False)


async def _decide(
    deps: RouteDeps, request: AgiRequest, session: AgiSession, *, paused: bool
) -> tuple[PauseOutcome, str | None]:
    number = money_number(request, deps)
    try:
        match, login = await deps.billing.login_for_money(number)
    except BillingError as exc:
        return PauseOutcome(PauseResult.ERROR, error=str(exc)), None
    if match == LoginMatch.AMBIGUOUS:
        return PauseOutcome(PauseResult.DENIED, PauseReason.AMBIGUOUS_NUMBER), None
    if login is None:
        return PauseOutcome(PauseResult.NOTFOUND), None
    normalised = deps.billing.phones.normalise(number)
    if deps.settings.require_pin:
        refused = await _pin_gate(deps, request, session, normalised, login)
        if refused is not None:
            return refused
    outcome = await deps.money_move(
        deps.billing.set_paused(
            paused,
            login=login,
            number=normalised or number,
            source=call_source(request, normalised or number),
        )
    )
    return outcome, None


async def _pin_gate(
    deps: RouteDeps, request: AgiRequest, session: AgiSession, number: str | None, login: str
) -> tuple[PauseOutcome, str | None] | None:
    """The lockout, then the PIN (agi.require_pin): why the caller may not pause or unpause
    now, or None when they may."""
    if await deps.lockout.locked_until(number, login):
        return PauseOutcome(PauseResult.DENIED, login=login), "LOCKED"
    try:
        pin = await check_pin(deps, request, session, number=number, login=login)
    except BillingError as exc:
        return PauseOutcome(PauseResult.ERROR, login=login, error=str(exc)), None
    if pin != PinCheck.OK:
        return PauseOutcome(PauseResult.DENIED, login=login), str(pin)
    return None
