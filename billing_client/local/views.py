"""Turning stored values into SubscriberInfo, with the rules applied for "today"."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from billing_client import rules
from billing_client.models import Subscriber
from billing_client.money import from_cents
from billing_client.subscriber import SubscriberInfo


class StoredSubscriber(NamedTuple):
    """The columns a lookup needs, as stored (kopecks, flags)."""

    login: str
    name: str
    balance_cents: int
    credit_cents: int
    credit_expire: date | None
    tariff: str
    fee_cents: int
    frozen: bool
    disabled: bool
    has_pin: bool


def stored(row: Subscriber) -> StoredSubscriber:
    return StoredSubscriber(
        row.login,
        row.name,
        row.balance_cents,
        row.credit_cents,
        row.credit_expire,
        row.tariff,
        row.fee_cents,
        row.frozen,
        row.disabled,
        row.pin_hash is not None,
    )


def info_from_stored(
    values: StoredSubscriber, today: date, phones: tuple[str, ...] = ()
) -> SubscriberInfo:
    balance = from_cents(values.balance_cents)
    fee = from_cents(values.fee_cents)
    credit = rules.active_credit(from_cents(values.credit_cents), values.credit_expire, today)
    return SubscriberInfo(
        login=values.login,
        name=values.name,
        status=rules.status_of(
            balance=balance, credit=credit, frozen=values.frozen, disabled=values.disabled
        ),
        balance=balance,
        credit=credit,
        credit_expire=values.credit_expire if credit > 0 else None,
        tariff=values.tariff,
        fee=fee,
        frozen=values.frozen,
        disabled=values.disabled,
        days_left=rules.days_left(balance=balance, credit=credit, fee=fee, today=today),
        phones=phones,
        has_pin=values.has_pin,
    )


def subscriber_info(row: Subscriber, today: date) -> SubscriberInfo:
    return info_from_stored(stored(row), today, tuple(p.phone for p in row.phones))
