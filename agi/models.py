"""Tables of the IVR: failed pay-card and PIN attempts, and the locks they cause."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base


class LockoutFailure(Base):
    __tablename__ = "agi_lockout_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(96))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(32))
    partner: Mapped[str | None] = mapped_column(String(96), nullable=True)
    """The subject this failure was counted with (the login for a number, and back)."""

    __table_args__ = (Index("ix_agi_lockout_failures_subject_at", "subject", "at"),)


class Lockout(Base):
    __tablename__ = "agi_lockouts"

    subject: Mapped[str] = mapped_column(String(96), primary_key=True)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
