"""Tables of the spooler: campaigns, their numbers, every call attempt, do-not-call list.

A campaign's numbers are called once per *run* (a scheduled start or `campaign start`):
a run queues one attempt per number; an attempt that ends busy, unanswered… queues the next
one after a delay, up to `max_attempts` per number and run. `spool_numbers` keeps each
number's summary for the current run (what `campaign report` prints); `spool_attempts`
keeps every attempt ever made.

A callback (part of a later issue) is a campaign of kind `callback` with one number, whose
attempt's `not_before` is the time asked for.

Instants are stored in UTC (`DateTime(timezone=True)`; SQLite hands them back naive).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base


class Campaign(Base):
    __tablename__ = "spool_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="campaign")
    state: Mapped[str] = mapped_column(String(16), default="idle")
    context: Mapped[str] = mapped_column(String(80))
    extension: Mapped[str] = mapped_column(String(80), default="s")
    callerid: Mapped[str | None] = mapped_column(String(160), nullable=True)
    bundle_size: Mapped[int] = mapped_column(Integer, default=0)
    bundle_delay: Mapped[float] = mapped_column(Float, default=0.0)
    max_concurrent: Mapped[int] = mapped_column(Integer, default=5)
    cps: Mapped[float] = mapped_column(Float, default=1.0)
    window: Mapped[str | None] = mapped_column(String(16), nullable=True)
    schedule: Mapped[str | None] = mapped_column(Text, nullable=True)
    max_attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    run_no: Mapped[int] = mapped_column(Integer, default=0)
    last_run_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CampaignNumber(Base):
    """A number of a campaign (E.164), with the IVR extension and variables it was given."""

    __tablename__ = "spool_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("spool_campaigns.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(20))
    extension: Mapped[str | None] = mapped_column(String(80), nullable=True)
    variables: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default="idle")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_reason: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    digit: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (UniqueConstraint("campaign_id", "number"),)


class Attempt(Base):
    """One call: one call file, `pbxbridge-<campaign_id>-<id>.call`."""

    __tablename__ = "spool_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("spool_campaigns.id", ondelete="CASCADE"))
    number_id: Mapped[int] = mapped_column(
        ForeignKey("spool_numbers.id", ondelete="CASCADE"), index=True
    )
    run_no: Mapped[int] = mapped_column(Integer)
    attempt_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    spooled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uniqueid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    digit: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[str] = mapped_column(String(255), default="")

    __table_args__ = (
        Index(
            "ix_spool_attempts_campaign_status_not_before", "campaign_id", "status", "not_before"
        ),
        Index("ix_spool_attempts_status", "status"),
    )


class DoNotCall(Base):
    """A number (E.164) no campaign calls."""

    __tablename__ = "spool_dnc"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(255), default="")
