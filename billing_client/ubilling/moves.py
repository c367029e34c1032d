"""Money moves on Ubilling: setcredit and paycardpay, journalled, sent once, read back.

Each move is checked against a fresh read of the subscriber (unknown login: NOTFOUND; frozen:
DENIED FROZEN without asking), written to the audit journal as `pending`, sent exactly once
with money_timeout as its only bound, and run to its end even when the caller is cancelled.
Ubilling answers success even when its Stargazer is down and nothing changed, so a success
is read back: no change means ERROR, an `unverified` audit row and an alert to staff.

Audit outcomes: ok, denied (Ubilling refused), error (nothing was done: not sent, or
refused before running), unknown (sent, no usable answer), unverified (success claimed,
not seen).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from billing_client import rules
from billing_client.audit import AuditJournal
from billing_client.errors import (
    BillingError,
    FateUnknown,
    RequestNotSent,
    UbillingRefused,
    UnexpectedReply,
)
from billing_client.outcomes import (
    CreditOutcome,
    CreditReason,
    CreditResult,
    MoneySource,
    PaycardOutcome,
    PaycardResult,
)
from billing_client.settings import BillingSettings
from billing_client.ubilling import replies
from billing_client.ubilling.http import Reply, UbillingHttp
from billing_client.ubilling.replies import UserRecord, cents, local_date
from primitives.clock import Clock
from storage.errors import brief

log = logging.getLogger("pbxbridge.billing.ubilling")

Alert = Callable[[str], Awaitable[None]]
ReadLogin = Callable[[str], Awaitable[UserRecord | None]]
_T = TypeVar("_T")


def amount_param(value: Decimal) -> str:
    """`100`, `12.5`: the shortest form PHP reads back as the same number."""
    text = f"{cents(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class MoneyMoves:
    def __init__(
        self,
        settings: BillingSettings,
        http: UbillingHttp,
        audit: AuditJournal,
        *,
        clock: Clock,
        read: ReadLogin,
        alert: Alert | None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._audit = audit
        self._clock = clock
        self._read = read
        self._alert = alert
        self._secret = settings.key.get_secret_value()
        self._moves: set[asyncio.Task[Any]] = set()

    async def set_credit(
        self, login: str, *, amount: Decimal | None, days: int, source: MoneySource
    ) -> CreditOutcome:
        try:
            before = await self._read(login)
        except BillingError as exc:
            await self._not_sent(
                login=login, kind="credit", field="credit", amount=amount, source=source, exc=exc
            )
            return CreditOutcome(CreditResult.ERROR, login=login, error=f"credit not sent: {exc}")
        if before is None:
            return CreditOutcome(CreditResult.NOTFOUND, login=login)
        login = before.login
        if before.passive or before.down or not before.always_online:
            return CreditOutcome(CreditResult.DENIED, CreditReason.FROZEN, login=login)
        limit = cents(amount if amount is not None else (before.fee or Decimal(0)))
        if limit <= 0:
            return CreditOutcome(
                CreditResult.DENIED,
                CreditReason.NOT_ALLOWED,
                login=login,
                error="no credit amount: the tariff fee is 0 and billing.credit_amount is unset",
            )
        entry = await self._open(
            login=login, kind="credit", field="credit", amount=limit, source=source
        )
        return await self._shielded(self._send_credit(entry, before, limit, days))

    async def _send_credit(
        self, entry: int, before: UserRecord, limit: Decimal, days: int
    ) -> CreditOutcome:
        login = before.login
        params = [
            ("param", "setcredit"),
            ("login", login),
            ("money", amount_param(limit)),
            ("expiredays", str(days)),
        ]
        sent = await self._send_move("setcredit", entry, params, before.credit)
        if isinstance(sent, str):
            return CreditOutcome(CreditResult.ERROR, login=login, error=sent)
        try:
            result, reason = replies.parse_setcredit(sent.body, self._secret)
        except UnexpectedReply as exc:
            return CreditOutcome(
                CreditResult.ERROR,
                login=login,
                error=await self._odd_reply(entry, exc, before.credit),
            )
        if result != CreditResult.OK:
            await self._close(entry, "denied", before=before.credit, detail=sent.body)
            return CreditOutcome(result, reason, login=login)
        return await self._confirm_credit(entry, before, limit, days, said=sent.body)

    async def _confirm_credit(
        self, entry: int, before: UserRecord, limit: Decimal, days: int, *, said: str
    ) -> CreditOutcome:
        """Ubilling said the credit is set: read the subscriber back to see that it is
        (unless billing.verify_money_moves is off), and close the journal entry."""
        login = before.login
        today = self._clock.today()
        if not self._settings.verify_money_moves:
            await self._close(entry, "ok", before=before.credit, detail=f"{said}; not read back")
            return CreditOutcome(
                CreditResult.OK, amount=limit, expire=rules.credit_expiry(today, days), login=login
            )
        after = await self._read_back("setcredit", entry, login, before.credit)
        if isinstance(after, str):
            return CreditOutcome(CreditResult.ERROR, login=login, error=after)
        if after.credit == before.credit and after.credit_expire == before.credit_expire:
            error = await self._unchanged("setcredit", entry, login, before.credit, after.credit)
            return CreditOutcome(CreditResult.ERROR, login=login, error=error)
        expire = local_date(after.credit_expire, self._clock.tz) or rules.credit_expiry(today, days)
        await self._close(
            entry,
            "ok",
            before=before.credit,
            after=after.credit,
            detail=f"until {expire.isoformat()}",
        )
        return CreditOutcome(
            CreditResult.OK, amount=cents(after.credit), expire=expire, login=login
        )

    async def pay_card(self, login: str, card: str, *, source: MoneySource) -> PaycardOutcome:
        try:
            before = await self._read(login)
        except BillingError as exc:
            await self._not_sent(
                login=login, kind="paycard", field="balance", amount=None, source=source, exc=exc
            )
            return PaycardOutcome(
                PaycardResult.ERROR, login=login, error=f"paycard not sent: {exc}"
            )
        if before is None:
            return PaycardOutcome(PaycardResult.NOTFOUND, login=login)
        entry = await self._open(
            login=before.login, kind="paycard", field="balance", amount=Decimal(0), source=source
        )
        return await self._shielded(self._send_paycard(entry, before, card))

    async def _send_paycard(self, entry: int, before: UserRecord, card: str) -> PaycardOutcome:
        login, tail = before.login, f"card …{card[-4:]}"
        params = [("param", "paycardpay"), ("login", login), ("paycardnum", card)]
        sent = await self._send_move("paycardpay", entry, params, before.cash)
        if isinstance(sent, str):
            return PaycardOutcome(PaycardResult.ERROR, login=login, error=sent)
        try:
            result = replies.parse_paycard(sent.body, self._secret)
        except UnexpectedReply as exc:
            return PaycardOutcome(
                PaycardResult.ERROR,
                login=login,
                error=await self._odd_reply(entry, exc, before.cash),
            )
        if result != PaycardResult.OK:
            await self._close(entry, "denied", before=before.cash, detail=f"{sent.body} ({tail})")
            return PaycardOutcome(result, login=login)
        return await self._confirm_paycard(entry, before, tail)

    async def _confirm_paycard(self, entry: int, before: UserRecord, tail: str) -> PaycardOutcome:
        """Ubilling said the card is paid: read the balance back to see that it moved
        (unless billing.verify_money_moves is off), and close the journal entry."""
        login = before.login
        if not self._settings.verify_money_moves:
            await self._close(entry, "ok", before=before.cash, detail=f"{tail}; not read back")
            return PaycardOutcome(PaycardResult.OK, login=login)
        after = await self._read_back("paycardpay", entry, login, before.cash)
        if isinstance(after, str):
            return PaycardOutcome(PaycardResult.ERROR, login=login, error=after)
        if after.cash == before.cash:
            error = await self._unchanged("paycardpay", entry, login, before.cash, after.cash)
            return PaycardOutcome(PaycardResult.ERROR, login=login, error=error)
        amount = cents(after.cash - before.cash)
        await self._close(
            entry, "ok", before=before.cash, after=after.cash, amount=amount, detail=tail
        )
        return PaycardOutcome(
            PaycardResult.OK, amount=amount, balance=cents(after.cash), login=login
        )

    # ------------------------------------------------------------------ plumbing

    async def _shielded(self, move: Coroutine[Any, Any, _T]) -> _T:
        """Run a sent move to its end (audit closed) even if our caller is cancelled."""
        task: asyncio.Task[_T] = asyncio.ensure_future(move)
        self._moves.add(task)
        task.add_done_callback(self._move_done)
        return await asyncio.shield(task)

    def _move_done(self, task: asyncio.Task[Any]) -> None:
        self._moves.discard(task)
        crash = None if task.cancelled() else task.exception()
        if crash is not None:
            # A done-callback cannot await: the alert goes on a task of its own, kept
            # referenced until it ends.
            alert = asyncio.ensure_future(
                self._notify(f"a money move crashed, its audit entry may be open: {brief(crash)}")
            )
            self._moves.add(alert)
            alert.add_done_callback(self._moves.discard)

    async def _open(
        self, *, login: str, kind: str, field: str, amount: Decimal, source: MoneySource
    ) -> int:
        try:
            return await self._audit.open(
                login=login, kind=kind, amount=amount, source=source, field=field
            )
        except (SQLAlchemyError, OSError) as exc:
            raise BillingError(
                f"{kind} not sent: the audit journal cannot be written ({type(exc).__name__})"
            ) from None

    async def _close(
        self,
        entry: int,
        outcome: str,
        *,
        before: Decimal | None = None,
        after: Decimal | None = None,
        amount: Decimal | None = None,
        detail: str = "",
    ) -> None:
        try:
            await self._audit.close(
                entry,
                outcome,
                before=None if before is None else cents(before),
                after=None if after is None else cents(after),
                amount=amount,
                detail=detail,
            )
        except (SQLAlchemyError, OSError) as exc:
            await self._notify(
                f"audit entry {entry} could not be closed as {outcome}: {brief(exc)}"
            )

    async def _not_sent(
        self,
        *,
        login: str,
        kind: str,
        field: str,
        amount: Decimal | None,
        source: MoneySource,
        exc: BillingError,
    ) -> None:
        """Record a move that failed before it was sent (e.g. the breaker is open)."""
        try:
            entry = await self._audit.open(
                login=login, kind=kind, amount=amount or Decimal(0), source=source, field=field
            )
        except (SQLAlchemyError, OSError) as db_exc:
            await self._notify(
                f"audit journal unavailable: a {kind} for {login} that was not sent is not "
                f"journalled: {brief(db_exc)}"
            )
            return
        await self._close(entry, "error", detail=f"not sent: {exc}")

    async def _send_move(
        self, what: str, entry: int, params: Sequence[tuple[str, str]], before: Decimal
    ) -> Reply | str:
        """Send once; on failure close the audit entry and return the error text."""
        try:
            return await self._http.get(what, "asterisk", params, money=True)
        except RequestNotSent as exc:
            log.warning("audit %s: %s not sent: %s", entry, what, exc)
            await self._close(entry, "error", before=before, detail=f"not sent: {exc}")
            return f"{what} not sent: {exc}"
        except FateUnknown as exc:
            error = f"{what} fate unknown, check Ubilling before retrying: {exc}"
            await self._close(entry, "unknown", before=before, detail=f"fate unknown: {exc}")
            await self._notify(f"audit {entry}: {error}")
            return error
        except BillingError as exc:
            log.warning("audit %s: %s failed: %s", entry, what, exc)
            await self._close(entry, "error", before=before, detail=str(exc))
            return f"{what} failed: {exc}"

    async def _odd_reply(self, entry: int, exc: UnexpectedReply, before: Decimal) -> str:
        if isinstance(exc, UbillingRefused):  # answered before running anything
            log.warning("audit %s: %s", entry, exc)
            await self._close(entry, "error", before=before, detail=str(exc))
            return str(exc)
        error = f"fate unknown, check Ubilling before retrying: {exc}"
        await self._close(entry, "unknown", before=before, detail=f"fate unknown: {exc}")
        await self._notify(f"audit {entry}: {error}")
        return error

    async def _read_back(
        self, what: str, entry: int, login: str, before: Decimal
    ) -> UserRecord | str:
        try:
            after = await self._read(login)
        except BillingError as exc:
            error = (
                f"Ubilling reported {what} for {login} as done, but reading it back failed: {exc}"
            )
            await self._close(entry, "unverified", before=before, detail=error)
            await self._notify(f"audit {entry}: {error}")
            return error
        if after is None:
            error = f"Ubilling reported {what} for {login} as done, but the login is gone"
            await self._close(entry, "unverified", before=before, detail=error)
            await self._notify(f"audit {entry}: {error}")
            return error
        return after

    async def _unchanged(
        self, what: str, entry: int, login: str, before: Decimal, after: Decimal
    ) -> str:
        error = (
            f"Ubilling reported {what} for {login} as done but nothing changed "
            f"(still {cents(after)}): Stargazer down?"
        )
        await self._close(entry, "unverified", before=before, after=after, detail=error)
        await self._notify(f"audit {entry}: {error}")
        return error

    async def _notify(self, message: str) -> None:
        """Log a money move staff must look at, and alert them when an alert is wired."""
        log.error("%s", message)
        if self._alert is None:
            return
        try:
            await self._alert(f"Ubilling: {message}")
        except Exception:
            log.exception("alert failed")

    async def drain(self) -> None:
        """Wait (at most money_timeout) for moves still in flight."""
        if self._moves:
            await asyncio.wait(set(self._moves), timeout=self._settings.money_timeout)
