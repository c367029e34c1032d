"""The outbox: one row per (event, webhook), kept until delivered or given up.

A row is the promise of one POST: its `body` (the JSON sent, fixed when the event was
emitted) and `delivery_id` never change, so every retry, after a restart too, sends the
same bytes under the same id. Rows of one (webhook, kind) go out in `id` order: the worker
only ever tries the oldest pending row of each queue (`ix_webhooks_outbox_queue`).

`claimed_until` is the lease of the attempt under way: an instance (or a process that
died mid-request) holds the row until then; after it, the row is tried again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base

PENDING = "pending"
DELIVERED = "delivered"
GIVEN_UP = "given_up"
STATES = (PENDING, DELIVERED, GIVEN_UP)
ERROR_MAX = 255


class OutboxRow(Base):
    __tablename__ = "webhooks_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    webhook: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The receiver's last HTTP status (None: no answer: timeout, connection error)."""
    last_error: Mapped[str] = mapped_column(String(ERROR_MAX), default="")
    """Why the last attempt failed, or why the row was given up."""
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When it was delivered or given up."""

    __table_args__ = (
        Index("ix_webhooks_outbox_queue", "state", "webhook", "kind", "id"),
        Index("ix_webhooks_outbox_finished", "state", "finished_at"),
    )
