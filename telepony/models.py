"""The outbox in pbxbridge's own database: each `Cdr` leg waits here until MySQL has it.

A row is deleted once it is in MySQL. `batch` is empty while the row waits; the worker
stamps the rows of the next batch with a fresh key (committed) before it writes them, and
that key goes into MySQL with them (see telepony.mysql), so a batch whose fate is unknown
(pbxbridge died between MySQL's commit and the delete here) is recognised on the next try.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base

RAW_MAX = 1024
"""Characters of a header kept here (telepony.cdr cuts them on the way in)."""
BATCH_KEY = 32


class OutboxRow(Base):
    __tablename__ = "telepony_outbox"
    __table_args__ = (Index("ix_telepony_outbox_batch", "batch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    batch: Mapped[str | None] = mapped_column(String(BATCH_KEY), nullable=True)
    calldate: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    clid: Mapped[str] = mapped_column(String(RAW_MAX))
    src: Mapped[str] = mapped_column(String(RAW_MAX))
    dst: Mapped[str] = mapped_column(String(RAW_MAX))
    dcontext: Mapped[str] = mapped_column(String(RAW_MAX))
    channel: Mapped[str] = mapped_column(String(RAW_MAX))
    dstchannel: Mapped[str] = mapped_column(String(RAW_MAX))
    lastapp: Mapped[str] = mapped_column(String(RAW_MAX))
    lastdata: Mapped[str] = mapped_column(String(RAW_MAX))
    duration: Mapped[int] = mapped_column(Integer)
    billsec: Mapped[int] = mapped_column(Integer)
    disposition: Mapped[str] = mapped_column(String(RAW_MAX))
    amaflags: Mapped[str] = mapped_column(String(RAW_MAX))
    accountcode: Mapped[str] = mapped_column(String(RAW_MAX))
    uniqueid: Mapped[str] = mapped_column(String(RAW_MAX))
    userfield: Mapped[str] = mapped_column(String(RAW_MAX))
