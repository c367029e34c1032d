"""Pay cards of the embedded billing: generate, import, deactivate, list.

A card number is money to whoever knows it, and a caller may try numbers at the IVR, so
generated numbers come from `secrets` and are long: 16 digits by default, never fewer than
12 (with a hundred thousand live cards, a guess still wins less than once in a million).
The first digit is never 0, so a number survives a spreadsheet that reads it as an integer.
Redeeming a card is LocalBackend.pay_card; this module never moves money.
"""

from __future__ import annotations

import builtins
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TextIO

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.client import clean_card
from billing_client.errors import AdminError, FieldProblem, ImportStopped
from billing_client.local.admin import take_write_lock
from billing_client.local.csvio import (
    PAYCARD_FIELDS,
    Record,
    check_amount,
    check_cells,
    parse_money,
    read_records,
)
from billing_client.local.importer import BATCH_ROWS, ImportReport
from billing_client.models import Paycard
from billing_client.money import from_cents
from primitives.clock import Clock

log = logging.getLogger("pbxbridge.billing.admin")

MIN_DIGITS = 12
MAX_DIGITS = 32  # billing_paycards.number
MAX_GENERATE = 100_000
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PaycardView:
    number: str
    amount: Decimal
    active: bool
    created_at: datetime
    used_at: datetime | None
    used_by: str | None

    @property
    def used(self) -> bool:
        return self.used_at is not None


def new_number(digits: int) -> str:
    """`digits` random digits, the first not 0, uniform over all such numbers."""
    low = 10 ** (digits - 1)
    return str(low + secrets.randbelow(9 * low))


class PaycardAdmin:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def generate(self, count: int, amount: Decimal, *, digits: int = 16) -> list[str]:
        """`count` new active cards worth `amount` each; their numbers, in no particular order.

        Numbers already stored (or drawn twice) are drawn again. All cards land in one
        transaction or none do.
        """
        if not 1 <= count <= MAX_GENERATE:
            raise AdminError(f"count must be 1 to {MAX_GENERATE}, not {count}")
        if not MIN_DIGITS <= digits <= MAX_DIGITS:
            raise AdminError(f"digits must be {MIN_DIGITS} to {MAX_DIGITS}, not {digits}")
        try:
            cents = check_amount(amount, "amount")
        except FieldProblem as exc:
            raise AdminError(str(exc)) from exc
        if cents <= 0:
            raise AdminError(f"a card must be worth more than 0, not {from_cents(cents)}")
        for _attempt in range(3):
            try:
                async with self._sessions.begin() as session:
                    await take_write_lock(session)
                    numbers = await self._draw(session, count, digits)
                    now = self._clock.now()
                    await session.execute(
                        insert(Paycard),
                        [
                            {"number": n, "amount_cents": cents, "active": True, "created_at": now}
                            for n in numbers
                        ],
                    )
            except IntegrityError:  # PostgreSQL: another writer stored one of them meanwhile
                continue
            log.info("generated %d pay cards of %s", count, from_cents(cents))
            return numbers
        raise AdminError("could not store unique card numbers; try again")

    @staticmethod
    async def _draw(session: AsyncSession, count: int, digits: int) -> list[str]:
        chosen: dict[str, None] = {}
        rejected: set[str] = set()
        while len(chosen) < count:
            fresh: list[str] = []
            while len(chosen) + len(fresh) < count:
                number = new_number(digits)
                if number not in chosen and number not in rejected and number not in fresh:
                    fresh.append(number)
            taken = await _existing(session, fresh)
            rejected |= taken
            chosen.update((n, None) for n in fresh if n not in taken)
        return builtins.list(chosen)

    async def import_csv(self, source: TextIO) -> ImportReport:
        """Cards from a file with the header ``number,amount`` (created = cards stored).

        A malformed row, a number repeated in the file or already stored is reported by its
        line and skipped; the other rows land. Spaces and dashes inside numbers are dropped,
        as the IVR drops them from what callers type.
        """
        try:
            records = read_records(source, PAYCARD_FIELDS)
        except FieldProblem as exc:
            raise AdminError(str(exc)) from exc
        report = ImportReport()
        seen: dict[str, int] = {}
        for start in range(0, len(records), BATCH_ROWS):
            cards: list[tuple[int, str, int]] = []
            for record in records[start : start + BATCH_ROWS]:
                try:
                    number, cents = _parse_card(record)
                except FieldProblem as exc:
                    report.skipped.append((record.line, str(exc)))
                    continue
                if number in seen:
                    report.skipped.append((record.line, f"card repeats line {seen[number]}"))
                    continue
                seen[number] = record.line
                cards.append((record.line, number, cents))
            if not cards:
                continue
            try:
                report.created += await self._store(cards, report)
            except SQLAlchemyError as exc:
                report.skipped.sort()
                raise ImportStopped(
                    f"database error at the batch starting on line {cards[0][0]}, earlier "
                    f"rows were imported ({report.created} cards): {type(exc).__name__}",
                    report,
                ) from exc
        report.skipped.sort()
        log.info("imported %d pay cards, skipped %d", report.created, len(report.skipped))
        return report

    async def _store(self, cards: list[tuple[int, str, int]], report: ImportReport) -> int:
        """Store one batch; how many landed. Refused rows go to `report.skipped`."""
        now = self._clock.now()
        skipped: list[tuple[int, str]] = []
        async with self._sessions.begin() as session:
            await take_write_lock(session)
            taken = await _existing(session, [number for _, number, _ in cards])
            fresh = []
            for line, number, cents in cards:
                if number in taken:
                    skipped.append((line, "card already exists"))
                else:
                    fresh.append(
                        {"number": number, "amount_cents": cents, "active": True, "created_at": now}
                    )
            stored = len(fresh)
            try:
                async with session.begin_nested():
                    if fresh:
                        await session.execute(insert(Paycard), fresh)
            except IntegrityError:  # another writer got in between: one SAVEPOINT per card
                stored = 0
                lines = {number: line for line, number, _ in cards}
                for params in fresh:
                    try:
                        async with session.begin_nested():
                            await session.execute(insert(Paycard), [params])
                        stored += 1
                    except IntegrityError:
                        skipped.append((lines[str(params["number"])], "card already exists"))
        report.skipped.extend(skipped)
        return stored

    async def deactivate(self, number: str) -> bool:
        """Make an active card unusable; False when no such card or it was inactive already."""
        card = clean_card(number)
        if card is None:
            return False
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Paycard)
                .where(Paycard.number == card, Paycard.active.is_(True))
                .values(active=False)
                .execution_options(synchronize_session=False)
            )
            done = bool(result.rowcount == 1)  # type: ignore[attr-defined]
        if done:
            log.info("deactivated pay card ...%s", card[-4:])
        return done

    async def list(self, *, used: bool | None = None) -> builtins.list[PaycardView]:
        """Cards oldest first; `used` keeps only used (True) or unused (False) ones."""
        stmt = select(Paycard).order_by(Paycard.created_at, Paycard.number)
        if used is True:
            stmt = stmt.where(Paycard.used_at.is_not(None))
        elif used is False:
            stmt = stmt.where(Paycard.used_at.is_(None))
        async with self._sessions() as session:
            rows = (await session.scalars(stmt)).all()
        return [
            PaycardView(
                number=row.number,
                amount=from_cents(row.amount_cents),
                active=row.active,
                created_at=self._clock.local(row.created_at),
                used_at=None if row.used_at is None else self._clock.local(row.used_at),
                used_by=row.used_by,
            )
            for row in rows
        ]


def _parse_card(record: Record) -> tuple[str, int]:
    raw_number, raw_amount = check_cells(record, len(PAYCARD_FIELDS))
    number = clean_card(raw_number)
    if number is None:
        shown = raw_number if len(raw_number) <= 40 else raw_number[:40] + "…"
        raise FieldProblem(f"bad card number {shown!r}: 4-32 letters or digits")
    cents = parse_money(raw_amount, "amount", negative_ok=False)
    if cents == 0:
        raise FieldProblem("bad amount: a card must be worth more than 0")
    return number, cents


async def _existing(session: AsyncSession, numbers: builtins.list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(numbers), _CHUNK):
        chunk = numbers[start : start + _CHUNK]
        found.update(await session.scalars(select(Paycard.number).where(Paycard.number.in_(chunk))))
    return found
