"""A subscriber's pause on Ubilling (setpause / setunpause), treated like a money move.

Ubilling's setpause does not reject an unknown login (it answers success and sets nothing),
and with its Stargazer down answers success for a pause that never happened (reference
rows 92 and §5b). So a pause rides the money moves' plumbing: the subscriber is read first
(unknown: NOTFOUND, never sent; already in the asked state: DENIED, never sent), the move
is journalled as `pending` (kind `freeze`/`unfreeze`, field `frozen`, amount 0, as the
embedded billing journals a freeze), sent once, run to its end even if the call is cut
off, and read back: a success that changed nothing is ERROR, an `unverified` audit row and
an alert.
"""

from __future__ import annotations

from decimal import Decimal

from billing_client.errors import BillingError, UnexpectedReply
from billing_client.outcomes import MoneySource
from billing_client.pause import PauseOutcome, PauseReason, PauseResult
from billing_client.ubilling import replies
from billing_client.ubilling.moves import MoneyMoves
from billing_client.ubilling.replies import UserRecord

_NOTHING = Decimal(0)
"""The audit journal's before/after columns hold money; a pause moves none."""


def _state(paused: bool) -> str:
    return "paused" if paused else "not paused"


class PauseMoves(MoneyMoves):
    """MoneyMoves plus `set_paused` (same journal, sending, shielding and read-back)."""

    async def set_paused(
        self, login: str, paused: bool, *, national: str | None, source: MoneySource
    ) -> PauseOutcome:
        kind = "freeze" if paused else "unfreeze"  # the embedded billing's words
        try:
            before = await self._read(login)
        except BillingError as exc:
            await self._not_sent(
                login=login, kind=kind, field="frozen", amount=None, source=source, exc=exc
            )
            return PauseOutcome(PauseResult.ERROR, login=login, error=f"{kind} not sent: {exc}")
        if before is None:
            return PauseOutcome(PauseResult.NOTFOUND, login=login)
        if before.passive == paused:
            reason = PauseReason.ALREADY_PAUSED if paused else PauseReason.NOT_PAUSED
            return PauseOutcome(PauseResult.DENIED, reason, login=before.login)
        entry = await self._open(
            login=before.login, kind=kind, field="frozen", amount=_NOTHING, source=source
        )
        return await self._shielded(self._send_pause(entry, before, paused, national or ""))

    async def _send_pause(
        self, entry: int, before: UserRecord, paused: bool, national: str
    ) -> PauseOutcome:
        login = before.login
        what = "setpause" if paused else "setunpause"
        params = [("param", what), ("login", login)]
        if not paused:
            params.append(("number", national))  # only echoed back
        sent = await self._send_move(what, entry, params, _NOTHING)
        if isinstance(sent, str):
            return PauseOutcome(PauseResult.ERROR, login=login, error=sent)
        try:
            if paused:
                refused = replies.parse_setpause(sent.body, login, self._secret)
            else:
                refused = replies.parse_setunpause(sent.body, login, national, self._secret)
        except UnexpectedReply as exc:
            error = await self._odd_reply(entry, exc, _NOTHING)
            return PauseOutcome(PauseResult.ERROR, login=login, error=error)
        if refused is not None:
            await self._close(entry, "denied", detail=sent.body)
            return PauseOutcome(PauseResult.DENIED, refused, login=login)
        return await self._confirm_pause(entry, login, paused, what)

    async def _confirm_pause(self, entry: int, login: str, paused: bool, what: str) -> PauseOutcome:
        """Ubilling said the pause is set: read the subscriber back to see that it is
        (unless billing.verify_money_moves is off), and close the journal entry."""
        if not self._settings.verify_money_moves:
            await self._close(entry, "ok", detail=f"{_state(paused)}; not read back")
            return PauseOutcome(PauseResult.OK, login=login)
        after = await self._read_back(what, entry, login, _NOTHING)
        if isinstance(after, str):
            return PauseOutcome(PauseResult.ERROR, login=login, error=after)
        if after.passive != paused:
            error = (
                f"Ubilling reported {what} for {login} as done but it is still "
                f"{_state(not paused)} (Passive={int(after.passive)}): Stargazer down?"
            )
            await self._close(entry, "unverified", detail=error)
            await self._notify(f"audit {entry}: {error}")
            return PauseOutcome(PauseResult.ERROR, login=login, error=error)
        await self._close(entry, "ok", detail=f"{_state(not paused)} -> {_state(paused)}")
        return PauseOutcome(PauseResult.OK, login=login)
