"""What pbxbridge knows about a subscriber, whichever billing answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import IntEnum


class Status(IntEnum):
    """Ubilling's userstatus codes, kept exactly."""

    UNKNOWN = 0
    ACTIVE = 1
    DEBTOR = 2
    FROZEN = 3


STATUS_WORDS = {status: status.name.lower() for status in Status}
"""How people read a status (CLI, staff bot)."""


@dataclass(frozen=True, slots=True)
class SubscriberInfo:
    """A read-only view of one subscriber. Never carries a password or PIN hash.

    `credit` is the credit limit now in force (0 once it has expired); `days_left` is None
    when the billing did not say enough to compute it (e.g. a tariff costing nothing).

    `unknown` names the fields the billing could not tell this time (a detail request of a
    call failed or missed the deadline): their values here are placeholders, never to be
    shown, said or set on a channel. Status, balance and fee are always known.
    """

    login: str
    name: str
    status: Status
    balance: Decimal
    credit: Decimal = Decimal("0.00")
    credit_expire: date | None = None
    tariff: str = ""
    fee: Decimal = Decimal("0.00")
    frozen: bool = False
    disabled: bool = False
    days_left: int | None = None
    phones: tuple[str, ...] = field(default=())
    has_pin: bool = False
    unknown: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.unknown <= MAY_BE_UNKNOWN:
            raise ValueError(f"no such detail: {sorted(self.unknown - MAY_BE_UNKNOWN)}")

    def known(self, name: str) -> bool:
        """Whether the field `name` holds what the billing said (see `unknown`)."""
        return name not in self.unknown


MAY_BE_UNKNOWN = frozenset(
    {"login", "name", "credit", "credit_expire", "tariff", "frozen", "disabled", "days_left",
     "phones"}
)  # fmt: skip
"""The fields a partial answer may leave unknown (status, balance and fee never)."""
