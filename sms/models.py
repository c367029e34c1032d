"""Tables of the SMS component: the inbox, parts waiting for their siblings, the outbox.

Every arrival and every state change is its own committed transaction, so that a
`kill -9` at any moment loses nothing that was acknowledged. The outbox row moves to
`sending` and commits before its action is written; that row is the proof, after a crash,
that a transmission may have happened (it becomes `unknown`, never resent).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base


class InboxRow(Base):
    """One received SMS (reassembled when it came in parts).

    `driver` is the channel driver it came in on (dongle, quectel, pjsip), which its reply
    goes out by; None when unknown (the dialplan's modem context), then `[sms] transport`.
    `stage` is `stored` until the sender was looked up and the auto-reply decided (queued in
    the same transaction that sets `done`), so a restart finishes what a crash cut short.
    """

    __tablename__ = "sms_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    device: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(64))
    sender_raw: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    text_key: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    driver: Mapped[str | None] = mapped_column(String(16), nullable=True)
    parts: Mapped[int] = mapped_column(Integer, default=1)
    parts_missing: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    login: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lookup: Mapped[str] = mapped_column(String(16), default="pending")
    stage: Mapped[str] = mapped_column(String(16), default="stored")
    reply_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_sms_inbox_dedupe", "device", "sender", "text_key", "received_at"),
        Index("ix_sms_inbox_stage", "stage"),
    )


class InboxPartRow(Base):
    """One part of a multipart SMS the modem delivered on its own (bg111 chan_dongle).

    Parts stay after their message was assembled (`assembled_id`) for a while, so that the
    per-part `*NewSMS` events that follow each `*NewCMGR` are recognised and dropped.
    """

    __tablename__ = "sms_inbox_parts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    device: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(64))
    sender_raw: Mapped[str] = mapped_column(String(64))
    ref: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_key: Mapped[str] = mapped_column(String(64))
    assembled_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_sms_inbox_parts_group", "device", "sender", "ref", "total"),
        Index("ix_sms_inbox_parts_received_at", "received_at"),
    )


class OutboxRow(Base):
    """One message to send: `queued → sending → sent | failed | unknown`, then maybe
    `delivered` or `failed` from a delivery report."""

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(String(16))
    device: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")
    action_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    modem_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    part_no: Mapped[int] = mapped_column(Integer, default=1)
    part_count: Mapped[int] = mapped_column(Integer, default=1)
    transliterated: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_to: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_sms_outbox_state_next", "state", "next_attempt_at"),
        Index("ix_sms_outbox_action_id", "action_id"),
        Index("ix_sms_outbox_modem_id", "modem_id"),
    )


class OutboxWorkerRow(Base):
    """The heartbeat of the running outbox worker (one row, id 1): written when it starts,
    every `poll_interval` while it runs, when its transport becomes ready or not (the AMI
    link), and when it stops. Another process (`pbxbridge sms send`) reads it to say
    whether a message it queued goes now or waits."""

    __tablename__ = "sms_outbox_worker"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    running: Mapped[bool] = mapped_column(Boolean)
    ready: Mapped[bool] = mapped_column(Boolean)
    ready_since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
