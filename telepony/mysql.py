"""The MySQL side: the cdr table (created when missing) and the one way rows get into it.

None written twice. A batch is written in one MySQL transaction together with a row of
its own in `pbxbridge_telepony_batches` (the batch's key, a random 128-bit hex string the
outbox stamped on its rows and committed before this write). Before inserting, the
transaction looks for that key (`SELECT … FOR UPDATE`):

* found: an earlier try committed and pbxbridge died (or lost the answer to COMMIT)
  before it deleted the rows from the outbox; nothing is inserted, the outbox just drops
  them;
* not found: the rows and the marker go in together, or neither does. Two writers racing
  on the same batch both insert the marker, and its primary key fails the second commit.

Why a marker table and not a unique key on the cdr table: the table is Asterisk's layout,
read by Ubilling and possibly written by Asterisk's own cdr_mysql too; it has no key that
identifies a leg (one uniqueid has several rows, cdr_mysql adds no id), and an existing
table is not ours to alter. One marker row per batch (not per leg) keeps it small; markers
older than MARKER_DAYS are deleted (a batch is settled seconds after its commit, so only a
pbxbridge that stays dead longer than that between the two could write one twice). The
guarantee needs a transactional table: the cdr table pbxbridge creates is InnoDB, and an
existing MyISAM one is warned about once (its rows can commit without their marker).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    MetaData,
    Table,
    bindparam,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from telepony.cdr import COLUMNS, INT_COLUMNS, TEXT_COLUMNS, CdrLeg, Layout
from telepony.cdr import Column as LayoutColumn
from telepony.errors import TableUnusable
from telepony.settings import TeleponySettings

log = logging.getLogger("pbxbridge.telepony")

MARKERS = "pbxbridge_telepony_batches"
MARKER_DAYS = 30
PRUNE_EVERY = timedelta(hours=6)
NUMERIC_TYPES = ("int", "dec", "float", "double", "real", "numeric", "fixed", "bit")
"""What cdr_mysql takes for a numeric column (strstr on DESC's type)."""
_INDEXED = ("calldate", "src", "dst", "accountcode", "uniqueid")
"""calldate: every Ubilling query is a date range; dst and accountcode: cdr_mysql's
documented indexes; src and uniqueid: lookups by caller and by call."""


def cdr_table(name: str, metadata: MetaData) -> Table:
    """cdr_mysql's table as its documentation creates it (InnoDB, utf8mb4 for Cyrillic
    CallerID names), with the widths of telepony.cdr.TEXT_COLUMNS."""
    columns: list[Column[Any]] = []
    for column in COLUMNS:
        if column == "calldate":
            columns.append(Column(column, mysql.DATETIME(), nullable=False))
        elif column in INT_COLUMNS:
            columns.append(
                Column(column, mysql.INTEGER(display_width=11), nullable=False, server_default="0")
            )
        else:
            width = TEXT_COLUMNS[column]
            columns.append(Column(column, mysql.VARCHAR(width), nullable=False, server_default=""))
    indexes = [Index(column, column) for column in _INDEXED]
    return Table(
        name,
        metadata,
        *columns,
        *indexes,
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


def markers_table(metadata: MetaData) -> Table:
    return Table(
        MARKERS,
        metadata,
        Column("batch", mysql.CHAR(32), primary_key=True),
        Column("table_name", mysql.VARCHAR(64), nullable=False),
        Column("legs", mysql.INTEGER(), nullable=False),
        Column("written_at", mysql.DATETIME(), nullable=False),
        Index("ix_written_at", "written_at"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


def create_mysql_engine(settings: TeleponySettings) -> AsyncEngine:
    url = make_url(settings.url.get_secret_value())
    connect_args: dict[str, Any] = {
        "connect_timeout": max(1, round(settings.connect_timeout)),
        # each read bounded too: a server that stops answering mid-transaction (or in the
        # rollback after the write's own timeout) fails the try instead of hanging it
        "read_timeout": settings.write_timeout,
    }
    if "charset" not in url.query:
        connect_args["charset"] = "utf8mb4"
    return create_async_engine(
        url,
        pool_size=1,
        max_overflow=1,
        pool_pre_ping=True,
        pool_recycle=3600,
        hide_parameters=True,  # an error's text quotes no caller's number
        connect_args=connect_args,
    )


def _describe(conn: Connection, table: str) -> tuple[dict[str, LayoutColumn], str | None]:
    rows = conn.execute(
        text(
            "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
        ),
        {"t": table},
    ).all()
    engine = conn.execute(
        text(
            "SELECT ENGINE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
        ),
        {"t": table},
    ).scalar()
    described = {}
    for name, data_type, width in rows:
        kind = str(data_type).lower()
        numeric = any(word in kind for word in NUMERIC_TYPES)
        described[str(name)] = LayoutColumn(str(name), numeric, int(width) if width else None)
    return described, str(engine) if engine is not None else None


class CdrTable:
    """Writes batches of legs to the cdr table. `prepare()` (again after any failure)
    creates what is missing and reads the table's layout; `write()` is the transaction."""

    def __init__(self, settings: TeleponySettings, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.name = settings.table
        self.engine = engine or create_mysql_engine(settings)
        self._layout: Layout | None = None
        self._insert: Any = None
        self._metadata = MetaData()
        self._cdr = cdr_table(self.name, self._metadata)
        self._markers = markers_table(self._metadata)
        self._pruned_at: datetime | None = None
        self._warned_engine = False

    @property
    def layout(self) -> Layout | None:
        """The table's layout once prepared (None before, and after a failure)."""
        return self._layout

    async def forget(self) -> None:
        """A write failed: drop the pooled connections (a server that went away leaves
        them dead) and read the layout again before the next write (the table may have
        been dropped or altered meanwhile)."""
        self._layout = None
        await self.engine.dispose()

    async def prepare(self) -> Layout:
        if self._layout is not None:
            return self._layout
        async with self.engine.begin() as conn:
            await conn.run_sync(self._metadata.create_all, checkfirst=True)
            described, engine = await conn.run_sync(_describe, self.name)
        layout = Layout.described(described)
        if not layout.columns:
            raise TableUnusable(
                f"table {self.name} has none of cdr_mysql's columns ({', '.join(COLUMNS)})"
            )
        if engine is not None and engine.lower() != "innodb" and not self._warned_engine:
            self._warned_engine = True
            log.warning(
                "TelePony: table %s is %s, not InnoDB: its rows are not written in one "
                "transaction with their batch marker, so a crash at the wrong moment can "
                "write a batch twice (ALTER TABLE %s ENGINE=InnoDB)",
                self.name,
                engine,
                self.name,
            )
        table = Table(self.name, MetaData(), *(Column(name) for name in layout.names))
        self._insert = insert(table).values({name: bindparam(name) for name in layout.names})
        self._layout = layout
        return layout

    async def write(self, batch: str, legs: Sequence[CdrLeg], now: datetime) -> bool:
        """Write `legs` as batch `batch` in one transaction: True when they went in now,
        False when that batch was already there (nothing written). `now`: UTC."""
        layout = await self.prepare()
        written_at = now.replace(tzinfo=None, microsecond=0)
        markers = self._markers
        async with asyncio.timeout(self.settings.write_timeout), self.engine.begin() as conn:
            seen = await conn.scalar(
                select(markers.c.batch).where(markers.c.batch == batch).with_for_update()
            )
            if seen is not None:
                return False
            if legs:
                await conn.execute(self._insert, [layout.values(leg) for leg in legs])
            await conn.execute(
                insert(markers).values(
                    batch=batch, table_name=self.name, legs=len(legs), written_at=written_at
                )
            )
            await self._prune(conn, written_at)
        return True

    async def _prune(self, conn: Any, now: datetime) -> None:
        """Markers older than MARKER_DAYS go, at most every PRUNE_EVERY."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        markers = self._markers
        await conn.execute(
            delete(markers).where(markers.c.written_at < now - timedelta(days=MARKER_DAYS))
        )
        self._pruned_at = now

    async def count(self) -> int | None:
        """Rows in the table, None when there is no such table (`pbxbridge check`);
        creates nothing."""
        async with self.engine.connect() as conn:
            described, _engine = await conn.run_sync(_describe, self.name)
            if not described:
                return None
            value = await conn.scalar(select(text("COUNT(*)")).select_from(self._cdr))
        return int(value or 0)

    async def close(self) -> None:
        await self.engine.dispose()
