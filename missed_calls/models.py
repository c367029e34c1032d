"""Tables of the missed-calls tracker.

Missed calls themselves are rows of the call log (`calls`, call_log/models.py, with
`missed` true): one table of calls, unique on the linkedid. `missed_calls_recall_attempts`
holds each unanswered call placed to a number with an open miss (WhyDoYouCall's
"unsuccessful recalls"), unique per call and number.

Daily statistics are computed from those rows (see `store.MissedCallStore.stats`), so they
survive restarts and never drift from the rows they summarise; job missed_stats keeps a
copy per day in `missed_calls_daily` (WhyDoYouCall's `wdycinfo`), which outlives the rows
once retention prunes them.

Times are UTC. SQLite hands them back naive; `store` puts the UTC back.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from call_log.models import ID_MAX, NUMBER_MAX
from storage import Base


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
