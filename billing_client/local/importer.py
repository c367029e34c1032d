"""Importing subscribers from CSV into the embedded billing.

The file (header ``login,name,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled``)
is read and its header checked before anything is written. Rows then land in batches of
500, one transaction each. A batch is checked row by row against what the database holds
(read under the lock that serialises money moves) and written in a few statements; should
the database still refuse it (another writer got in between, PostgreSQL), the batch is
redone with a SAVEPOINT per row, so a refused row never takes others with it. Every row not
imported is reported with the line it starts on and why.

A row whose login is new creates the subscriber. A row whose login exists updates its
profile (name, tariff, fee, frozen, disabled) and replaces its phones; its balance and
credit change only with ``update_balances=True``, each change journalled (kind "import").

Within one file, a login may appear once, and a phone may go to one login: a later row that
repeats a login, or gives a phone to another login than an earlier row did, is skipped.
"Earlier row" means one that landed; a skipped row claims nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TextIO, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.audit import AuditJournal
from billing_client.errors import AdminError, FieldProblem, ImportStopped
from billing_client.local.admin import check_actor, phone_owners, take_write_lock
from billing_client.local.csvio import (
    SUBSCRIBER_FIELDS,
    Record,
    SubscriberRow,
    parse_subscriber,
    read_records,
)
from billing_client.models import AuditEntry, Subscriber, SubscriberPhone
from billing_client.money import from_cents
from billing_client.outcomes import MoneySource
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser

BATCH_ROWS = 500


@dataclass
class ImportReport:
    """What an import did. `skipped` holds (line where the row starts, reason), by line."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {len(self.skipped)}"
        )


@dataclass(frozen=True, slots=True)
class _Stored:
    """The columns of an existing subscriber an import compares against."""

    id: int
    login: str
    name: str
    balance_cents: int
    credit_cents: int
    credit_expire: date | None
    tariff: str
    fee_cents: int
    frozen: bool
    disabled: bool


@dataclass
class _FileState:
    """What earlier rows of this file took: login → line, phone → (login, line)."""

    logins: dict[str, int] = field(default_factory=dict)
    phones: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Known:
    """What a batch read under its lock: stored subscribers of its logins, their phones,
    and the owners of every phone the batch names."""

    stored: dict[str, _Stored]
    phones_of: dict[int, tuple[str, ...]]
    owners: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Walk:
    update_balances: bool
    source: MoneySource


@dataclass(slots=True)
class _Change:
    """One row's effect. `values`: the insert (created) or the update by id (updated);
    `phones`: the new list when it changes, else None."""

    row: SubscriberRow
    outcome: Literal["created", "updated", "unchanged"]
    values: dict[str, object]
    phones: tuple[str, ...] | None
    entries: list[AuditEntry]


@dataclass
class _Outcome:
    """A batch decided (or written) row by row, in file order."""

    owners: dict[str, str]
    changes: list[_Change] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    landed: _FileState = field(default_factory=_FileState)

    def land(self, change: _Change, old_phones: tuple[str, ...]) -> None:
        row = change.row
        self.changes.append(change)
        for phone in old_phones:
            if self.owners.get(phone) == row.login:
                del self.owners[phone]
        for phone in row.phones:
            self.owners[phone] = row.login
            self.landed.phones[phone] = (row.login, row.line)
        self.landed.logins[row.login] = row.line


class SubscriberImporter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        audit: AuditJournal,
        phones: PhoneNormaliser,
        *,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._audit = audit
        self._phones = phones
        self._batch_rows = max(1, batch_rows)

    async def run(
        self,
        source: TextIO,
        *,
        update_balances: bool = False,
        actor: str,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import `source` (opened with newline="", encoding="utf-8-sig").

        Raises AdminError, with nothing written, when the file is empty, not UTF-8 or its
        header is not exactly the expected one; ImportStopped when the database fails
        part-way (batches before it stay). `progress` gets the number of rows handled so far
        after each batch.
        """
        actor = check_actor(actor)
        try:
            records = read_records(source, SUBSCRIBER_FIELDS)
        except FieldProblem as exc:
            raise AdminError(str(exc)) from exc
        report = ImportReport()
        state = _FileState()
        money_source = MoneySource(kind="import", user=actor)
        done = 0
        for start in range(0, len(records), self._batch_rows):
            chunk = records[start : start + self._batch_rows]
            try:
                await self._batch(chunk, update_balances, money_source, report, state)
            except SQLAlchemyError as exc:
                report.skipped.sort()
                raise ImportStopped(
                    f"database error at the batch starting on line {chunk[0].line}, "
                    f"earlier rows were imported ({report.summary()}): {type(exc).__name__}",
                    report,
                ) from exc
            done += len(chunk)
            if progress is not None:
                progress(done)
        report.skipped.sort()
        return report

    async def _batch(
        self,
        chunk: list[Record],
        update_balances: bool,
        source: MoneySource,
        report: ImportReport,
        state: _FileState,
    ) -> None:
        rows: list[SubscriberRow] = []
        for record in chunk:
            try:
                rows.append(parse_subscriber(record, self._phones))
            except FieldProblem as exc:
                report.skipped.append((record.line, str(exc)))
        if not rows:
            return
        async with self._sessions.begin() as session:
            await take_write_lock(session)
            stored = await self._stored(session, [r.login for r in rows])
            known = _Known(
                stored=stored,
                phones_of=await self._phones_of(session, [s.id for s in stored.values()]),
                owners=await phone_owners(session, (p for r in rows for p in r.phones)),
            )
            walk = _Walk(update_balances=update_balances, source=source)
            try:
                # The fast way: decide every row against what was read under the lock, then
                # write the batch in a few statements.
                async with session.begin_nested():
                    outcome = await self._walk(session, rows, known, state, walk, each=False)
                    await self._apply_many(session, outcome.changes)
            except IntegrityError:
                # Someone wrote between our reads and our writes (PostgreSQL: another import
                # or admin). Start the batch over, one SAVEPOINT per row.
                outcome = await self._walk(session, rows, known, state, walk, each=True)
            await _insert_entries(session, [e for c in outcome.changes for e in c.entries])
        # Merged only once the batch has committed, so the report tells what is stored.
        for change in outcome.changes:
            setattr(report, change.outcome, getattr(report, change.outcome) + 1)
        report.skipped.extend(outcome.skipped)
        state.logins.update(outcome.landed.logins)
        state.phones.update(outcome.landed.phones)

    async def _walk(
        self,
        session: AsyncSession,
        rows: list[SubscriberRow],
        known: _Known,
        state: _FileState,
        walk: _Walk,
        *,
        each: bool,
    ) -> _Outcome:
        """Decide each row in file order; with `each`, also write it in its own SAVEPOINT."""
        outcome = _Outcome(owners=dict(known.owners))
        for row in rows:
            reason = _conflict(row, outcome.owners, state, outcome.landed)
            if reason is not None:
                outcome.skipped.append((row.line, reason))
                continue
            old = known.stored.get(row.login)
            old_phones = known.phones_of.get(old.id, ()) if old is not None else ()
            change = self._change(row, old, old_phones, walk)
            if each and change.outcome != "unchanged":
                try:
                    async with session.begin_nested():
                        await self._apply_one(session, change)
                except IntegrityError:
                    outcome.skipped.append(
                        (row.line, "a login or phone of this row was taken meanwhile")
                    )
                    continue
            outcome.land(change, old_phones)
        return outcome

    def _change(
        self,
        row: SubscriberRow,
        old: _Stored | None,
        old_phones: tuple[str, ...],
        walk: _Walk,
    ) -> _Change:
        """What `row` does to the database, nothing written yet."""
        now = self._clock.now()
        profile: dict[str, object] = {
            "name": row.name,
            "tariff": row.tariff,
            "fee_cents": row.fee_cents,
            "frozen": row.frozen,
            "disabled": row.disabled,
        }
        money: dict[str, object] = {
            "balance_cents": row.balance_cents,
            "credit_cents": row.credit_cents,
            "credit_expire": row.credit_expire,
        }
        if old is None:
            detail = f"line {row.line}, new subscriber"
            entries = []
            if row.balance_cents:
                entries.append(
                    self._entry(row, "balance", 0, row.balance_cents, walk=walk, detail=detail)
                )
            if row.credit_cents:
                entries.append(
                    self._entry(row, "credit", 0, row.credit_cents, walk=walk, detail=detail)
                )
            values = {"login": row.login, **profile, **money, "lock_seq": 0, "created_at": now}
            return _Change(row, "created", {**values, "updated_at": now}, row.phones, entries)
        changed = any(getattr(old, key) != value for key, value in profile.items())
        entries = []
        if walk.update_balances:
            detail = f"line {row.line}"
            if row.balance_cents != old.balance_cents:
                entries.append(
                    self._entry(
                        row,
                        "balance",
                        old.balance_cents,
                        row.balance_cents,
                        walk=walk,
                        detail=detail,
                    )
                )
            if (row.credit_cents, row.credit_expire) != (old.credit_cents, old.credit_expire):
                until = row.credit_expire.isoformat() if row.credit_expire else "none"
                entries.append(
                    self._entry(
                        row,
                        "credit",
                        old.credit_cents,
                        row.credit_cents,
                        walk=walk,
                        detail=f"{detail}, until {until}",
                    )
                )
            changed = changed or bool(entries)
            profile.update(money)
        phones = row.phones if row.phones != old_phones else None
        if not changed and phones is None:
            return _Change(row, "unchanged", {}, None, [])
        # Every updated row sets the same columns, so a batch is one executemany.
        values = {"id": old.id, **profile, "updated_at": now}
        return _Change(row, "updated", values, phones, entries)

    @staticmethod
    async def _apply_one(session: AsyncSession, change: _Change) -> None:
        if change.outcome == "created":
            subscriber_id = await session.scalar(
                insert(Subscriber).values(**change.values).returning(Subscriber.id)
            )
            assert subscriber_id is not None
            await _insert_phones(session, [(subscriber_id, change.phones or ())])
            return
        subscriber_id = cast(int, change.values["id"])
        if change.phones is not None:
            await _delete_phones(session, [subscriber_id])
        await session.execute(update(Subscriber), [change.values])
        if change.phones:
            await _insert_phones(session, [(subscriber_id, change.phones)])

    @staticmethod
    async def _apply_many(session: AsyncSession, changes: list[_Change]) -> None:
        created = [c for c in changes if c.outcome == "created"]
        updated = [c for c in changes if c.outcome == "updated"]
        ids = {c.row.login: cast(int, c.values["id"]) for c in updated}
        await _delete_phones(session, [ids[c.row.login] for c in updated if c.phones is not None])
        if updated:
            await session.execute(update(Subscriber), [c.values for c in updated])
        if created:
            await session.execute(insert(Subscriber), [c.values for c in created])
            result = await session.execute(
                select(Subscriber.login, Subscriber.id).where(
                    Subscriber.login.in_([c.row.login for c in created])
                )
            )
            ids.update(result.all())
        await _insert_phones(session, [(ids[c.row.login], c.phones) for c in changes if c.phones])

    @staticmethod
    async def _stored(session: AsyncSession, logins: list[str]) -> dict[str, _Stored]:
        """The existing subscribers among `logins`, row-locked on PostgreSQL (in login
        order, so two imports cannot deadlock) so balances compared are balances replaced."""
        result = await session.execute(
            select(
                Subscriber.id,
                Subscriber.login,
                Subscriber.name,
                Subscriber.balance_cents,
                Subscriber.credit_cents,
                Subscriber.credit_expire,
                Subscriber.tariff,
                Subscriber.fee_cents,
                Subscriber.frozen,
                Subscriber.disabled,
            )
            .where(Subscriber.login.in_(logins))
            .order_by(Subscriber.login)
            .with_for_update()
        )
        return {row.login: _Stored(**row._asdict()) for row in result}

    @staticmethod
    async def _phones_of(session: AsyncSession, ids: list[int]) -> dict[int, tuple[str, ...]]:
        found: dict[int, list[str]] = {}
        if ids:
            result = await session.execute(
                select(SubscriberPhone.subscriber_id, SubscriberPhone.phone)
                .where(SubscriberPhone.subscriber_id.in_(ids))
                .order_by(SubscriberPhone.subscriber_id, SubscriberPhone.position)
            )
            for subscriber_id, phone in result:
                found.setdefault(subscriber_id, []).append(phone)
        return {k: tuple(v) for k, v in found.items()}

    def _entry(
        self,
        row: SubscriberRow,
        what: str,
        before: int,
        after: int,
        *,
        walk: _Walk,
        detail: str,
    ) -> AuditEntry:
        return self._audit.entry(
            login=row.login,
            kind="import",
            field=what,
            amount=from_cents(after - before),
            before=from_cents(before),
            after=from_cents(after),
            source=walk.source,
            outcome="ok",
            detail=detail,
        )


async def _insert_phones(
    session: AsyncSession, phones_of: list[tuple[int, tuple[str, ...]]]
) -> None:
    params = [
        {"phone": phone, "subscriber_id": subscriber_id, "position": position}
        for subscriber_id, phones in phones_of
        for position, phone in enumerate(phones)
    ]
    if params:
        await session.execute(insert(SubscriberPhone), params)


async def _insert_entries(session: AsyncSession, entries: list[AuditEntry]) -> None:
    """Journal rows in one executemany: the unit of work would fetch every new id back."""
    if entries:
        columns = [c.key for c in AuditEntry.__table__.columns if c.key != "id"]
        await session.execute(
            insert(AuditEntry), [{key: getattr(e, key) for key in columns} for e in entries]
        )


async def _delete_phones(session: AsyncSession, subscriber_ids: list[int]) -> None:
    if subscriber_ids:
        await session.execute(
            delete(SubscriberPhone)
            .where(SubscriberPhone.subscriber_id.in_(subscriber_ids))
            .execution_options(synchronize_session=False)
        )


def _conflict(row: SubscriberRow, owners: dict[str, str], *states: _FileState) -> str | None:
    """Why `row` may not land: its login or a phone was taken by an earlier row of the file,
    or a phone belongs to another login in the database."""
    for state in states:
        if row.login in state.logins:
            return f"login {row.login} already imported from line {state.logins[row.login]}"
    for phone in row.phones:
        for state in states:
            claim = state.phones.get(phone)
            if claim is not None and claim[0] != row.login:
                return f"phone {phone} already given to login {claim[0]} on line {claim[1]}"
        owner = owners.get(phone)
        if owner is not None and owner != row.login:
            return f"phone {phone} belongs to login {owner}"
    return None
