"""Tables of the billing client: the embedded billing and the audit journal.

Money columns hold integer kopecks. `lock_seq` exists so that a money move can start its
transaction with an UPDATE of the subscriber row: that takes the row lock on PostgreSQL and
the write lock on SQLite before anything is read, so two moves for one subscriber serialise
instead of both reading the old balance.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage import Base


class Subscriber(Base):
    __tablename__ = "billing_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_expire: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_credit_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    tariff: Mapped[str] = mapped_column(String(64), default="")
    fee_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    pin_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lock_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    phones: Mapped[list[SubscriberPhone]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        order_by="SubscriberPhone.position",
        lazy="selectin",
    )

    def __repr__(self) -> str:  # never show the PIN hash
        return f"Subscriber(login={self.login!r})"


class LookupStamp(Base):
    """One row counting the commits that changed subscribers or phones, kept by SQLite
    triggers (migration b1_0003): call lookups keep answers while it stands still."""

    __tablename__ = "billing_lookup_stamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)


class SubscriberPhone(Base):
    """A phone in E.164. The primary key makes a number belong to at most one login."""

    __tablename__ = "billing_subscriber_phones"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("billing_subscribers.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    subscriber: Mapped[Subscriber] = relationship(back_populates="phones")


class Paycard(Base):
    __tablename__ = "billing_paycards"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    def __repr__(self) -> str:  # the number is money: keep it out of reprs
        return f"Paycard(amount_cents={self.amount_cents}, used={self.used_at is not None})"


class AuditEntry(Base):
    """One money movement, written before (Ubilling) or with (embedded billing) the change.

    `outcome` is `pending` while a remote move is in flight; a `pending` row that stays is a
    move whose fate is unknown (the process died or the billing never answered).
    """

    __tablename__ = "billing_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    login: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    field: Mapped[str] = mapped_column(String(16), default="balance")
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    before_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    after_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    uniqueid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    backend: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_billing_audit_login_at", "login", "at"),)


class FeeCharge(Base):
    """One fee charged to one subscriber for one local day (monthly mode: for the 1st).

    The primary key is the exactly-once guarantee of job charge_fee: the charge row is
    inserted with ON CONFLICT DO NOTHING in the transaction that moves the balance, so a
    second run, a restart or a second instance finds the row and charges nothing.
    """

    __tablename__ = "billing_fee_charges"

    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    charged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeeDay(Base):
    """A local day job charge_fee has finished (every subscriber considered): where the
    next run picks up after downtime. Days whose run was cut short have no row and are
    gone through again (each charge still happens once, by FeeCharge's key)."""

    __tablename__ = "billing_fee_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AutofreezeWatch(Base):
    """A subscriber job autofreeze has seen below `billing.autofreeze_limit`, since when
    (local date); the row goes when the balance is back or the subscriber is frozen."""

    __tablename__ = "billing_autofreeze_watch"

    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    below_since: Mapped[date] = mapped_column(Date)


class ReminderSent(Base):
    """One SMS reminder queued for one subscriber in one period (`2027-03-28` for once a
    day, `2027-W13` for once an ISO week); the key makes it at most one per period."""

    __tablename__ = "billing_reminders_sent"

    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    number: Mapped[str] = mapped_column(String(20))
    outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
