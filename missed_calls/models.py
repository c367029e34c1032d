"""Tables of the missed-calls tracker.

`missed_calls_entries` holds one row per missed call, unique on the call's linkedid, so a
call can never be recorded twice (not even by two processes or after a restart).
`missed_calls_recall_attempts` holds each unanswered call placed to a number with an open
miss (WhyDoYouCall's "unsuccessful recalls"), unique per call and number.

Daily statistics are computed from these rows (see `store.MissedCallStore.stats`), so they
survive restarts and never drift from the rows they summarise; job missed_stats keeps a
copy per day in `missed_calls_daily` (WhyDoYouCall's `wdycinfo`), which outlives the rows
once retention prunes them.

Times are UTC. SQLite hands them back naive; `store` puts the UTC back.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base

NUMBER_MAX = 64
ID_MAX = 150
"""Asterisk's AST_MAX_UNIQUEID: an Originate may name its channels (ChannelId) this long."""
NAME_MAX = 255
QUEUE_MAX = 80


class MissedCallRow(Base):
    __tablename__ = "missed_calls_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(ID_MAX), unique=True)
    # E.164 when the number parsed, else the raw text (number_valid false)
    number: Mapped[str] = mapped_column(String(NUMBER_MAX))
    raw_number: Mapped[str] = mapped_column(String(NUMBER_MAX))
    number_valid: Mapped[bool] = mapped_column(Boolean)
    # pending: not looked up yet or the billing failed; ok; notfound; skipped (invalid number)
    lookup: Mapped[str] = mapped_column(String(16))
    login: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    queue: Mapped[str | None] = mapped_column(String(QUEUE_MAX), nullable=True)
    queue_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    waited_seconds: Mapped[int] = mapped_column(Integer)
    recalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    recalled_by: Mapped[str | None] = mapped_column(String(ID_MAX), nullable=True)

    __table_args__ = (Index("ix_missed_calls_entries_number_at", "number", "at"),)


class RecallAttemptRow(Base):
    __tablename__ = "missed_calls_recall_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(ID_MAX))
    number: Mapped[str] = mapped_column(String(NUMBER_MAX))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    __table_args__ = (
        UniqueConstraint("linkedid", "number", name="uq_missed_calls_recall_attempts_call"),
    )


class DailyStatsRow(Base):
    """One local day of missed-call statistics, as Ubilling's WhyDoYouCall keeps it in
    `wdycinfo` (job missed_stats writes it; a rerun for the day updates the row).

    `missed_numbers` is space-separated (wdycinfo's `missednumbers`), valid numbers only;
    `total_recall_seconds` is wdycinfo's `totaltrytime`: from each miss to its recall.
    """

    __tablename__ = "missed_calls_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    missed: Mapped[int] = mapped_column(Integer)
    recalled: Mapped[int] = mapped_column(Integer)
    unsuccessful: Mapped[int] = mapped_column(Integer)
    distinct_numbers: Mapped[int] = mapped_column(Integer)
    missed_numbers: Mapped[str] = mapped_column(Text)
    total_recall_seconds: Mapped[int] = mapped_column(Integer)
    average_recall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
