"""Day-to-day administration of the embedded billing's subscribers (the CLI's library).

Every change that touches a subscriber starts by taking that subscriber's row lock
(`lock_subscriber`), so it serialises with the IVR's money moves: a credit edited here and
a self-service credit asked for at the same moment cannot both read the old value. Money
changes land in the audit journal in the same transaction as the change itself.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import TextIO

from sqlalchemy import false, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.audit import AuditJournal
from billing_client.errors import AdminError, FieldProblem
from billing_client.local import flags
from billing_client.local.backend import lock_subscriber
from billing_client.local.csvio import (
    NAME_MAX,
    SUBSCRIBER_FIELDS,
    TARIFF_MAX,
    check_amount,
    check_credit,
    check_login,
    check_text,
    csv_writer,
    normalise_phones,
    subscriber_cells,
)
from billing_client.local.views import subscriber_info
from billing_client.models import AuditEntry, Subscriber, SubscriberPhone
from billing_client.money import from_cents
from billing_client.outcomes import MoneySource
from billing_client.pause import FlagsChanged
from billing_client.pins import hash_pin, valid_pin
from billing_client.subscriber import Status, SubscriberInfo
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser

log = logging.getLogger("pbxbridge.billing.admin")

FlagCondition = Callable[[SubscriberInfo], bool]
"""A check of a freeze or unfreeze, made on the locked row: False changes nothing."""

ACTOR_MAX = 64  # billing_audit.actor
NOTE_MAX = 1000  # billing_audit.detail is cut there
_EXPORT_PAGE = 1000


@contextmanager
def _refusal() -> Iterator[None]:
    try:
        yield
    except FieldProblem as exc:
        raise AdminError(str(exc)) from exc


def over_payment_limit(amount: Decimal, limit: Decimal) -> bool:
    """Whether a payment (either sign) is above billing.max_payment: the CLI then wants
    --force, the admin page its confirmation, before anything is booked."""
    return abs(amount) > limit


def check_actor(actor: str) -> str:
    """Who is acting (CLI user, API user): recorded in the audit journal."""
    if not isinstance(actor, str) or not actor.strip():
        raise AdminError("actor is required (who makes the change)")
    with _refusal():
        return check_text(actor, "actor", ACTOR_MAX)


async def take_write_lock(session: AsyncSession) -> None:
    """Open the session's transaction with a write that matches no row.

    SQLite (through the sqlite3 module) sends BEGIN only before the first write, so without
    this the checks of a check-then-write would run outside the transaction, and a SAVEPOINT
    sent first would itself become the transaction (its RELEASE would commit). The empty
    UPDATE starts the transaction and takes SQLite's write lock, waiting for it up to the busy
    timeout, so what follows reads and changes one state. On PostgreSQL it changes nothing.
    """
    await session.execute(
        update(Subscriber)
        .where(false())
        .values(lock_seq=Subscriber.lock_seq)
        .execution_options(synchronize_session=False)
    )


async def phone_owners(
    session: AsyncSession, numbers: Iterable[str], *, chunk: int = 500
) -> dict[str, str]:
    """Which login holds each of `numbers` (E.164); numbers nobody holds are absent."""
    wanted = builtins.list(dict.fromkeys(numbers))
    owners: dict[str, str] = {}
    for start in range(0, len(wanted), chunk):
        rows = await session.execute(
            select(SubscriberPhone.phone, Subscriber.login)
            .join(Subscriber, Subscriber.id == SubscriberPhone.subscriber_id)
            .where(SubscriberPhone.phone.in_(wanted[start : start + chunk]))
        )
        owners.update(rows.all())
    return owners


def replace_phones(row: Subscriber, numbers: tuple[str, ...]) -> bool:
    """Make `row.phones` exactly `numbers` in that order; whether anything changed.

    Numbers kept keep their row (only the position moves), so no flush ever deletes and
    re-inserts the same primary key.
    """
    if tuple(p.phone for p in row.phones) == numbers:
        return False
    current = {p.phone: p for p in row.phones}
    kept: builtins.list[SubscriberPhone] = []
    for position, number in enumerate(numbers):
        item = current.pop(number, None) or SubscriberPhone(phone=number)
        item.position = position
        kept.append(item)
    row.phones = kept
    return True


@dataclass(frozen=True, slots=True)
class Edit:
    """What an edit asks for, checked (None: keep what is stored)."""

    name: str | None = None
    tariff: str | None = None
    fee_cents: int | None = None
    credit_cents: int | None = None
    phones: tuple[str, ...] | None = None
    credit_expire: date | None = None
    clear_credit: bool = False
    pin_hash: str | None = None
    clear_pin: bool = False


def field_changes(row: Subscriber, wanted: Edit) -> dict[str, object]:
    """The columns (besides phones and credit) an edit changes, with their new values;
    those already holding the value asked for are left out. Nothing is written."""
    asked = {"name": wanted.name, "tariff": wanted.tariff, "fee_cents": wanted.fee_cents}
    changes: dict[str, object] = {
        column: value
        for column, value in asked.items()
        if value is not None and value != getattr(row, column)
    }
    if wanted.pin_hash is not None:  # a new hash (salted) always differs from the stored one
        changes["pin_hash"] = wanted.pin_hash
    elif wanted.clear_pin and row.pin_hash is not None:
        changes["pin_hash"] = None
    return changes


def credit_after(row: Subscriber, wanted: Edit) -> tuple[int, date | None]:
    """(credit in cents, expiry) once the edit is made, before it is checked: a new credit
    or expiry replaces the stored one; clear_credit drops both."""
    credit = 0 if wanted.clear_credit else row.credit_cents
    expire = None if wanted.clear_credit else row.credit_expire
    if wanted.credit_cents is not None:
        credit = wanted.credit_cents
    if wanted.credit_expire is not None:
        expire = wanted.credit_expire
    return credit, expire


class LocalAdmin:
    """Subscribers of the embedded billing: add, edit, freeze, delete, list, export, pay."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        audit: AuditJournal,
        phones: PhoneNormaliser,
        *,
        on_flags: FlagsChanged | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._audit = audit
        self._phones = phones
        self._on_flags = on_flags

    # -- reading ---------------------------------------------------------------------

    async def get(self, login: str) -> SubscriberInfo | None:
        async with self._sessions() as session:
            row = await session.scalar(select(Subscriber).where(Subscriber.login == login))
            return None if row is None else subscriber_info(row, self._clock.today())

    async def has_subscribers(self) -> bool:
        """Whether the billing holds anyone (one row read, however many there are)."""
        async with self._sessions() as session:
            return await session.scalar(select(Subscriber.login).limit(1)) is not None

    async def list(self, *, status: Status | None = None) -> builtins.list[SubscriberInfo]:
        """Every subscriber ordered by login; `status` keeps only those in that status today."""
        today = self._clock.today()
        async with self._sessions() as session:
            rows = (await session.scalars(select(Subscriber).order_by(Subscriber.login))).all()
            infos = [subscriber_info(row, today) for row in rows]
        return [i for i in infos if status is None or i.status == status]

    async def export_csv(self, out: TextIO) -> int:
        """Write every subscriber in the import format (header included); how many rows.

        Stored values are written as they are (an expired credit too), so importing the file
        with update_balances=True restores exactly this state and reports every row unchanged.
        PIN hashes and the self-service credit history are not part of the file.
        """
        writer = csv_writer(out)
        writer.writerow(SUBSCRIBER_FIELDS)
        count = 0
        last = ""
        while True:
            async with self._sessions() as session:
                rows = (
                    await session.scalars(
                        select(Subscriber)
                        .where(Subscriber.login > last)
                        .order_by(Subscriber.login)
                        .limit(_EXPORT_PAGE)
                    )
                ).all()
            if not rows:
                return count
            for row in rows:
                writer.writerow(subscriber_cells(row))
            count += len(rows)
            last = rows[-1].login

    # -- changes ---------------------------------------------------------------------

    async def add(
        self,
        login: str,
        *,
        name: str = "",
        phones: Iterable[str] = (),
        balance: Decimal = Decimal(0),
        credit: Decimal = Decimal(0),
        credit_expire: date | None = None,
        tariff: str = "",
        fee: Decimal = Decimal(0),
        frozen: bool = False,
        disabled: bool = False,
        pin: str | None = None,
        actor: str,
    ) -> SubscriberInfo:
        """A new subscriber. A non-zero starting balance or credit is journalled."""
        actor = check_actor(actor)
        if isinstance(phones, str):  # one number given bare, not a string of characters
            phones = (phones,)
        with _refusal():
            login = check_login(login)
            name = check_text(name, "name", NAME_MAX)
            numbers = normalise_phones(phones, self._phones)
            balance_cents = check_amount(balance, "balance")
            credit_cents = check_amount(credit, "credit", negative_ok=False)
            expire = check_credit(credit_cents, credit_expire)
            tariff = check_text(tariff, "tariff", TARIFF_MAX)
            fee_cents = check_amount(fee, "fee", negative_ok=False)
        pin_hash = await _hash(pin)
        now = self._clock.now()
        source = MoneySource.of_actor(actor)
        try:
            async with self._sessions.begin() as session:
                await take_write_lock(session)
                taken = await session.scalar(select(Subscriber.id).where(Subscriber.login == login))
                if taken is not None:
                    raise AdminError(f"login {login} already exists")
                await self._refuse_foreign_phones(session, numbers, login)
                row = Subscriber(
                    login=login,
                    name=name,
                    balance_cents=balance_cents,
                    credit_cents=credit_cents,
                    credit_expire=expire,
                    tariff=tariff,
                    fee_cents=fee_cents,
                    frozen=frozen,
                    disabled=disabled,
                    pin_hash=pin_hash,
                    lock_seq=0,
                    created_at=now,
                    updated_at=now,
                    phones=[SubscriberPhone(phone=p, position=i) for i, p in enumerate(numbers)],
                )
                session.add(row)
                if balance_cents:
                    amount = from_cents(balance_cents)
                    session.add(
                        self._audit.entry(
                            login=login,
                            kind="payment",
                            amount=amount,
                            before=Decimal("0.00"),
                            after=amount,
                            source=source,
                            outcome="ok",
                            detail="initial balance",
                        )
                    )
                if credit_cents:
                    session.add(
                        self._credit_entry(
                            login,
                            before_cents=0,
                            after_cents=credit_cents,
                            expire=expire,
                            source=source,
                            why="initial credit",
                        )
                    )
                await session.flush()
                info = subscriber_info(row, self._clock.today())
        except IntegrityError as exc:
            raise AdminError(
                f"login {login} or one of its phones was taken meanwhile; try again"
            ) from exc
        log.info("%s added subscriber %s", actor, login)
        return info

    async def edit(
        self,
        login: str,
        *,
        name: str | None = None,
        phones: Iterable[str] | None = None,
        tariff: str | None = None,
        fee: Decimal | None = None,
        credit: Decimal | None = None,
        credit_expire: date | None = None,
        clear_credit: bool = False,
        pin: str | None = None,
        clear_pin: bool = False,
        actor: str,
    ) -> SubscriberInfo:
        """Change what is given, keep the rest. `phones` replaces the whole list.

        The balance is not editable here (use add_payment, which journals the move); a
        change of credit or its expiry is journalled with field "credit".
        """
        actor = check_actor(actor)
        if clear_credit and (credit is not None or credit_expire is not None):
            raise AdminError("clear_credit cannot be combined with credit or credit_expire")
        if clear_pin and pin is not None:
            raise AdminError("clear_pin cannot be combined with a new pin")
        if isinstance(phones, str):
            phones = (phones,)
        with _refusal():
            wanted = Edit(
                name=None if name is None else check_text(name, "name", NAME_MAX),
                tariff=None if tariff is None else check_text(tariff, "tariff", TARIFF_MAX),
                fee_cents=None if fee is None else check_amount(fee, "fee", negative_ok=False),
                credit_cents=(
                    None if credit is None else check_amount(credit, "credit", negative_ok=False)
                ),
                phones=None if phones is None else normalise_phones(phones, self._phones),
                credit_expire=credit_expire,
                clear_credit=clear_credit,
                clear_pin=clear_pin,
            )
        wanted = replace(wanted, pin_hash=await _hash(pin))
        source = MoneySource.of_actor(actor)
        try:
            async with self._sessions.begin() as session:
                row = await self._locked(session, login)
                changed = await self._apply_edit(session, row, wanted, source)
                await session.flush()
                info = subscriber_info(row, self._clock.today())
        except IntegrityError as exc:
            raise AdminError(
                f"one of the phones of {login} was taken meanwhile; try again"
            ) from exc
        if changed:
            log.info("%s edited subscriber %s", actor, login)
        return info

    async def _apply_edit(
        self, session: AsyncSession, row: Subscriber, wanted: Edit, source: MoneySource
    ) -> bool:
        """Make the locked `row` what `wanted` says; whether anything changed. A change of
        credit is journalled in the same transaction."""
        changed = False
        if wanted.phones is not None:
            await self._refuse_foreign_phones(session, wanted.phones, row.login)
            changed = replace_phones(row, wanted.phones)
        changes = field_changes(row, wanted)
        for column, value in changes.items():
            setattr(row, column, value)
        credit, expire = credit_after(row, wanted)
        with _refusal():
            expire = check_credit(credit, expire)
        if (credit, expire) != (row.credit_cents, row.credit_expire):
            session.add(
                self._credit_entry(
                    row.login,
                    before_cents=row.credit_cents,
                    after_cents=credit,
                    expire=expire,
                    source=source,
                    why="cleared" if credit == 0 else "set by admin",
                )
            )
            row.credit_cents, row.credit_expire, changed = credit, expire, True
        if changed or changes:
            row.updated_at = self._clock.now()
        return changed or bool(changes)

    async def set_frozen(
        self,
        login: str,
        frozen: bool,
        actor: str,
        *,
        note: str = "",
        when: FlagCondition | None = None,
        source: MoneySource | None = None,
    ) -> SubscriberInfo:
        """Freeze or unfreeze (status 3); the one way every caller does it (the CLI, job
        autofreeze), journalled. `when` is asked on the locked, fresh row, only when the
        flag would change: False leaves the subscriber as is (the job's rule no longer
        holds). The answer says the state after."""
        return await self._set_flag(login, "frozen", frozen, actor, note, when, source)

    async def set_disabled(self, login: str, disabled: bool, actor: str) -> SubscriberInfo:
        return await self._set_flag(login, "disabled", disabled, actor)

    async def delete(self, login: str, actor: str) -> None:
        """Remove the subscriber and its phones. The journal keeps its history, and gets one
        more entry: the balance that leaves with the subscriber."""
        actor = check_actor(actor)
        async with self._sessions.begin() as session:
            row = await self._locked(session, login)
            balance = from_cents(row.balance_cents)
            session.add(
                self._audit.entry(
                    login=login,
                    kind="delete",
                    amount=-balance,
                    before=balance,
                    source=MoneySource.of_actor(actor),
                    outcome="ok",
                    detail="subscriber deleted",
                )
            )
            await session.delete(row)
        log.info("%s deleted subscriber %s (balance %s)", actor, login, balance)

    async def add_payment(
        self, login: str, amount: Decimal, *, note: str = "", actor: str
    ) -> Decimal:
        """Add `amount` to the balance (negative: a correction); the new balance."""
        actor = check_actor(actor)
        with _refusal():
            cents = check_amount(amount, "amount")
            note = check_text(note, "note", NOTE_MAX)
        if cents == 0:
            raise AdminError("a payment of 0 changes nothing")
        async with self._sessions.begin() as session:
            row = await self._locked(session, login)
            before = row.balance_cents
            row.balance_cents = before + cents
            row.updated_at = self._clock.now()
            session.add(
                self._audit.entry(
                    login=login,
                    kind="payment",
                    amount=from_cents(cents),
                    before=from_cents(before),
                    after=from_cents(row.balance_cents),
                    source=MoneySource.of_actor(actor),
                    outcome="ok",
                    detail=note,
                )
            )
            balance = from_cents(row.balance_cents)
        log.info("%s: payment %s for %s, balance now %s", actor, from_cents(cents), login, balance)
        return balance

    # -- helpers ---------------------------------------------------------------------

    async def _set_flag(
        self,
        login: str,
        flag: flags.Flag,
        value: bool,
        actor: str,
        note: str = "",
        when: FlagCondition | None = None,
        source: MoneySource | None = None,
    ) -> SubscriberInfo:
        """Set the flag, journalled (see billing_client.local.flags); `on_flags` hears of
        a change once it is committed. `when` is asked on the locked row, only when the
        flag would change: False leaves the subscriber as is."""
        actor = check_actor(actor)
        with _refusal():
            note = check_text(note, "note", NOTE_MAX)
        async with self._sessions.begin() as session:
            row = await self._locked(session, login)
            info = subscriber_info(row, self._clock.today())
            if getattr(row, flag) == value or (when is not None and not when(info)):
                return info
            entry = flags.set_flag(
                row,
                flag,
                value,
                audit=self._audit,
                clock=self._clock,
                source=source or MoneySource.of_actor(actor),
                why=note or "set by admin",
            )
            if entry is not None:
                session.add(entry)
                log.info("%s set %s=%s for %s", actor, flag, value, login)
            info = subscriber_info(row, self._clock.today())
            blocked = flags.blocked(row)
        if entry is not None and self._on_flags is not None:
            await self._on_flags(login, blocked)
        return info

    @staticmethod
    async def _locked(session: AsyncSession, login: str) -> Subscriber:
        row = await lock_subscriber(session, login)
        if row is None:
            raise AdminError(f"no subscriber with login {login!r}")
        return row

    @staticmethod
    async def _refuse_foreign_phones(
        session: AsyncSession, numbers: tuple[str, ...], login: str
    ) -> None:
        for number, owner in (await phone_owners(session, numbers)).items():
            if owner != login:
                raise AdminError(f"phone {number} belongs to login {owner}")

    def _credit_entry(
        self,
        login: str,
        *,
        before_cents: int,
        after_cents: int,
        expire: date | None,
        source: MoneySource,
        why: str,
    ) -> AuditEntry:
        until = f"until {expire.isoformat()}" if expire else "no credit"
        return self._audit.entry(
            login=login,
            kind="credit",
            field="credit",
            amount=from_cents(after_cents - before_cents),
            before=from_cents(before_cents),
            after=from_cents(after_cents),
            source=source,
            outcome="ok",
            detail=f"{why}, {until}",
        )


async def _hash(pin: str | None) -> str | None:
    """The hash of a new PIN, computed off the event loop (argon2 takes ~0.1 s of CPU)."""
    if pin is None:
        return None
    if not valid_pin(pin):
        raise AdminError("a PIN is 4 to 8 digits")
    return await asyncio.to_thread(hash_pin, pin)
