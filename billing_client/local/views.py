"""Turning stored rows into SubscriberInfo, with the rules applied for "today"."""

from __future__ import annotations

from datetime import date

from billing_client import rules
from billing_client.models import Subscriber
from billing_client.money import from_cents
from billing_client.subscriber import SubscriberInfo


def subscriber_info(row: Subscriber, today: date) -> SubscriberInfo:
    balance = from_cents(row.balance_cents)
    fee = from_cents(row.fee_cents)
    credit = rules.active_credit(from_cents(row.credit_cents), row.credit_expire, today)
    return SubscriberInfo(
        login=row.login,
        name=row.name,
        status=rules.status_of(
            balance=balance, credit=credit, frozen=row.frozen, disabled=row.disabled
        ),
        balance=balance,
        credit=credit,
        credit_expire=row.credit_expire if credit > 0 else None,
        tariff=row.tariff,
        fee=fee,
        frozen=row.frozen,
        disabled=row.disabled,
        days_left=rules.days_left(balance=balance, credit=credit, fee=fee, today=today),
        phones=tuple(p.phone for p in row.phones),
        has_pin=row.pin_hash is not None,
    )
