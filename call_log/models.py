"""The call log's table: `calls`, one row per call (everything sharing a linkedid).

A missed call is a row with `missed` true: missed_calls/ reads and marks those rows (its
`recalled_at`/`recalled_by`, the subscriber found for the number), it keeps no copy. The
row is unique on the call's linkedid, so a call is never recorded twice (not even by two
processes or after a restart).

`caller` and `callee` are as Asterisk gave them; `number` is the outside party's number
the call is filed and matched under (E.164 when it parsed, `number_valid`), None for an
internal call. Times are UTC; SQLite hands them back naive and `store` puts the UTC back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base

NUMBER_MAX = 64
ID_MAX = 150
"""Asterisk's AST_MAX_UNIQUEID: an Originate may name its channels (ChannelId) this long."""
NAME_MAX = 255
QUEUE_MAX = 80
CHANNEL_MAX = 255
FILE_MAX = 255


class CallRow(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(ID_MAX), unique=True)
    caller: Mapped[str] = mapped_column(String(NUMBER_MAX))
    callee: Mapped[str] = mapped_column(String(NUMBER_MAX))
    number: Mapped[str | None] = mapped_column(String(NUMBER_MAX), nullable=True)
    number_valid: Mapped[bool] = mapped_column(Boolean)
    # incoming, outgoing, internal
    direction: Mapped[str] = mapped_column(String(16))
    # ANSWERED, NO ANSWER, BUSY, FAILED (Asterisk's words)
    disposition: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration: Mapped[int] = mapped_column(Integer)
    billsec: Mapped[int] = mapped_column(Integer)
    queue: Mapped[str | None] = mapped_column(String(QUEUE_MAX), nullable=True)
    queue_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(CHANNEL_MAX), nullable=True)
    recording: Mapped[str | None] = mapped_column(String(FILE_MAX), nullable=True)
    # pending: not looked up yet or the billing failed; ok; notfound; skipped (no number)
    lookup: Mapped[str] = mapped_column(String(16))
    login: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the missed-call verdict and what missed_calls/ keeps of it
    missed: Mapped[bool] = mapped_column(Boolean)
    waited_seconds: Mapped[int] = mapped_column(Integer)
    recalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    recalled_by: Mapped[str | None] = mapped_column(String(ID_MAX), nullable=True)

    __table_args__ = (
        Index("ix_calls_number_started_at", "number", "started_at"),
        Index("ix_calls_missed_started_at", "missed", "started_at"),
    )
