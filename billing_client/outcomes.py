"""Results of billing questions and money moves, as the IVR and the CLI report them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from billing_client.subscriber import SubscriberInfo


class BillingResult(StrEnum):
    OK = "OK"
    NOTFOUND = "NOTFOUND"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class Lookup:
    """An answer about a number. `source` is the billing answer it rests on: `live` (the
    billing asked now), `stale` (the last answer seen, while the billing fails), `none`
    (no billing answer: an error with nothing stale to stand in, or nothing to ask about)."""

    result: BillingResult
    subscriber: SubscriberInfo | None = None
    source: Literal["live", "stale", "none"] = "live"
    error: str | None = None

    @classmethod
    def found(cls, subscriber: SubscriberInfo) -> Lookup:
        return cls(BillingResult.OK, subscriber)

    @classmethod
    def not_found(cls) -> Lookup:
        return cls(BillingResult.NOTFOUND)

    @classmethod
    def unasked(cls) -> Lookup:
        """NOTFOUND without asking: no phone number to ask the billing about."""
        return cls(BillingResult.NOTFOUND, source="none")

    @classmethod
    def failed(cls, error: str) -> Lookup:
        return cls(BillingResult.ERROR, source="none", error=error)


class LoginMatch(StrEnum):
    FOUND = "FOUND"
    NOTFOUND = "NOTFOUND"
    AMBIGUOUS = "AMBIGUOUS"


class CreditResult(StrEnum):
    OK = "OK"
    DENIED = "DENIED"
    NOTFOUND = "NOTFOUND"
    ERROR = "ERROR"


class CreditReason(StrEnum):
    FROZEN = "FROZEN"
    NOT_NEEDED = "NOT_NEEDED"
    ALREADY_IN_CREDIT = "ALREADY_IN_CREDIT"
    MONTH_LIMIT = "MONTH_LIMIT"
    DEBT_TOO_LARGE = "DEBT_TOO_LARGE"
    NOT_ALLOWED = "NOT_ALLOWED"
    AMBIGUOUS_NUMBER = "AMBIGUOUS_NUMBER"


@dataclass(frozen=True, slots=True)
class CreditOutcome:
    result: CreditResult
    reason: CreditReason | None = None
    amount: Decimal | None = None
    expire: date | None = None
    login: str | None = None
    error: str | None = None


class PaycardResult(StrEnum):
    OK = "OK"
    INVALID = "INVALID"
    USED = "USED"
    LOCKED = "LOCKED"
    NOTFOUND = "NOTFOUND"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class PaycardOutcome:
    result: PaycardResult
    amount: Decimal | None = None
    balance: Decimal | None = None
    login: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MoneySource:
    """Who asked for a money move (or an unlock): a call (number and uniqueid), a person at
    the CLI, in the staff bot (`telegram`, user `telegram:<chat id>`) or an API, an import,
    or a periodic job (`job`, user the job's name), or a client of the Ubilling-compatible
    remoteapi face (`remoteapi`, user = its address), or a staff member on the admin pages
    (`staff`, user = the account's name). Stored as text in the audit journal's `source`
    (no constraint: a new kind needs no migration)."""

    kind: Literal["call", "cli", "telegram", "api", "import", "job", "remoteapi", "staff"]
    number: str | None = None
    uniqueid: str | None = None
    user: str | None = None

    @classmethod
    def of_actor(cls, actor: str) -> MoneySource:
        """The source of a change made by `actor` as the rooms write it: `staff:<name>` (the
        admin pages) is a staff member, anything else (`cli:<user>`, `api:<token>`) is
        recorded as the CLI's, the actor's text as the user."""
        kind, _, name = actor.partition(":")
        if kind == "staff" and name:
            return cls(kind="staff", user=name)
        return cls(kind="cli", user=actor)

    def describe(self) -> str:
        if self.kind == "call":
            return f"call from {self.number or '?'} uniqueid {self.uniqueid or '?'}"
        if self.kind == "job":
            return f"job {self.user or '?'}"
        if self.kind == "remoteapi":
            return f"remoteapi from {self.user or '?'}"
        return f"{self.kind} user {self.user or '?'}"
