"""Billing rules shared by every backend: status, credit activity, days left, credit checks.

Dates are local dates in the configured timezone; callers pass "today" in, so the rules are
pure and the clock lives in one place.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from billing_client.outcomes import CreditReason
from billing_client.subscriber import Status


def credit_active(credit: Decimal, credit_expire: date | None, today: date) -> bool:
    """A credit is in force until the end of its expiry day."""
    return credit > 0 and credit_expire is not None and today <= credit_expire


def active_credit(credit: Decimal, credit_expire: date | None, today: date) -> Decimal:
    return credit if credit_active(credit, credit_expire, today) else Decimal("0.00")


def status_of(*, balance: Decimal, credit: Decimal, frozen: bool, disabled: bool) -> Status:
    """Ubilling's rule: 3 if frozen or disabled, else 1 if balance >= -credit, else 2.

    `credit` is the credit in force (see `active_credit`).
    """
    if frozen or disabled:
        return Status.FROZEN
    return Status.ACTIVE if balance >= -credit else Status.DEBTOR


def days_left(*, balance: Decimal, credit: Decimal, fee: Decimal, today: date) -> int | None:
    """Days that balance plus the credit in force cover at fee / days-in-this-month a day.

    0 when that sum is negative; None when the tariff costs nothing (no end in sight).
    Worked as funds × days ÷ fee, floored exactly: dividing by a daily price first rounds
    it (100 / 31 is not a finite decimal), and a month's fee would then last a day short.
    """
    funds = balance + credit
    if funds <= 0:
        return 0
    if fee <= 0:
        return None
    month_days = calendar.monthrange(today.year, today.month)[1]
    return int((funds * month_days) // fee)


def credit_denial(
    *,
    status: Status,
    balance: Decimal,
    credit: Decimal,
    credit_expire: date | None,
    last_credit_on: date | None,
    amount: Decimal,
    today: date,
) -> CreditReason | None:
    """Why a self-service credit of `amount` is refused now, or None when it may be given."""
    if status == Status.FROZEN:
        return CreditReason.FROZEN
    if balance >= 0:
        return CreditReason.NOT_NEEDED
    if credit_active(credit, credit_expire, today):
        return CreditReason.ALREADY_IN_CREDIT
    if last_credit_on is not None and (last_credit_on.year, last_credit_on.month) == (
        today.year,
        today.month,
    ):
        return CreditReason.MONTH_LIMIT
    if balance + amount < 0:
        return CreditReason.DEBT_TOO_LARGE
    return None


def credit_expiry(today: date, days: int) -> date:
    """The last day a credit taken today is in force: `days` days after today, to the end of
    that day (Ubilling's setcredit stores today + expiredays the same way)."""
    return today + timedelta(days=days)
