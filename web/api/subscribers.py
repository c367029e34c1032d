"""`/subscribers`: who owns a phone number, from the configured billing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field

from billing_client.outcomes import BillingResult
from billing_client.subscriber import STATUS_WORDS, SubscriberInfo
from web.api.deps import api_deps
from web.api.routing import ApiInput, RouteTable
from web.errors import Invalid, NotFound, Unavailable
from web.tokens import Scope

routes = RouteTable("subscribers")

_T = TypeVar("_T")

StatusWord = Literal["unknown", "active", "debtor", "frozen"]


class NumberPath(ApiInput):
    number: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[0-9+()\-. ]+$",
        description="A phone number in any usual form: 0501234567, +380501234567, 380 50 …",
    )


class Subscriber(BaseModel):
    """A subscriber as the billing tells it. A detail the billing could not tell this time
    is null and named in `unknown`."""

    login: str | None
    name: str | None
    status: StatusWord
    status_code: int = Field(description="Ubilling's userstatus: 0 unknown … 3 frozen.")
    balance: Decimal
    credit: Decimal | None
    credit_expire: date | None
    tariff: str | None
    fee: Decimal
    frozen: bool | None
    disabled: bool | None
    days_left: int | None
    phones: list[str] | None = Field(description="E.164.")
    source: Literal["live", "stale", "none"] = Field(
        description="live: the billing answered now; stale: its last answer, while it fails."
    )
    unknown: list[str]

    @classmethod
    def of(cls, info: SubscriberInfo, source: Literal["live", "stale", "none"]) -> Subscriber:
        def known(name: str, value: _T) -> _T | None:
            return value if info.known(name) else None

        return cls(
            login=known("login", info.login),
            name=known("name", info.name),
            status=STATUS_WORDS[info.status],
            status_code=int(info.status),
            balance=info.balance,
            credit=known("credit", info.credit),
            credit_expire=known("credit_expire", info.credit_expire),
            tariff=known("tariff", info.tariff),
            fee=info.fee,
            frozen=known("frozen", info.frozen),
            disabled=known("disabled", info.disabled),
            days_left=known("days_left", info.days_left),
            phones=list(info.phones) if info.known("phones") else None,
            source=source,
            unknown=sorted(info.unknown),
        )


@routes.get("/subscribers/{number}", scope=Scope.SUBSCRIBERS_READ, errors=(404, 503))
async def get_subscriber(request: web.Request, path: NumberPath) -> Subscriber:
    """Look a subscriber up by phone number.

    The number goes through the same normaliser as every call, so any written form of it
    finds the same subscriber. 404 when no subscriber has it, 422 when it is no phone
    number, 503 when the billing cannot be asked.
    """
    billing = api_deps(request).billing
    number = billing.phones.normalise(path.number)
    if number is None:
        raise Invalid("not a phone number", field="number")
    lookup = await billing.find(number)
    if lookup.result == BillingResult.ERROR:
        raise Unavailable("the billing does not answer; try again later")
    if lookup.subscriber is None:
        raise NotFound(f"no subscriber has {number}")
    return Subscriber.of(lookup.subscriber, lookup.source)
