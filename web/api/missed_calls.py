"""`/missed-calls`: missed inbound calls and their daily statistics (WhyDoYouCall's).

Read from the missed-calls store, which the running service fills from AMI events; the same
rows `pbxbridge missed list|stats` read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from billing_client.subscriber import STATUS_WORDS
from missed_calls import records
from missed_calls.store import MAX_STATS_DAYS
from web.api.common import PHONE_PATTERN, DateQuery, Page, PageQuery, QueryBool, QueryInt
from web.api.deps import ApiDeps, api_deps
from web.api.routing import ApiInput, RouteTable
from web.errors import Invalid
from web.tokens import Scope

routes = RouteTable("missed calls")


class MissedQuery(PageQuery, DateQuery):
    recalled: QueryBool | None = Field(
        default=None, description="true: only recalled ones; false: only those still open."
    )
    number: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=PHONE_PATTERN,
        description="Only calls from this number (any written form).",
    )


class MissedCall(BaseModel):
    id: int
    number: str = Field(description="E.164 when the caller's number parsed, else as received.")
    number_valid: bool
    at: datetime = Field(description="When the call began.")
    waited_seconds: int = Field(description="How long the caller waited (queue hold or ring).")
    queue: str | None
    queue_position: int | None
    login: str | None = Field(description="The subscriber the number belongs to.")
    name: str | None
    status: Literal["unknown", "active", "debtor", "frozen"] | None
    lookup: str = Field(description="ok, notfound, skipped, or pending (billing not asked yet).")
    recalled_at: datetime | None = Field(description="When an answered call to or from it began.")
    seconds_to_recall: int | None
    linkedid: str

    @classmethod
    def of(cls, call: records.MissedCall) -> MissedCall:
        return cls(
            id=call.id,
            number=call.number,
            number_valid=call.number_valid,
            at=call.at,
            waited_seconds=call.waited_seconds,
            queue=call.queue,
            queue_position=call.queue_position,
            login=call.login,
            name=call.name,
            status=STATUS_WORDS[call.status] if call.status is not None else None,
            lookup=call.lookup,
            recalled_at=call.recalled_at,
            seconds_to_recall=call.seconds_to_recall,
            linkedid=call.linkedid,
        )


class StatsQuery(ApiInput):
    days: QueryInt = Field(
        default=7, ge=1, le=MAX_STATS_DAYS, description="The last N days, today included."
    )


class DayStats(BaseModel):
    day: date = Field(description="A day in the service's timezone.")
    missed: int
    missed_numbers: int = Field(description="Distinct numbers (WhyDoYouCall counts numbers).")
    recalled: int = Field(description="Of that day's missed calls, recalled since.")
    open: int
    unsuccessful_attempts: int = Field(description="Unanswered calls to numbers with an open miss.")
    average_recall_seconds: float | None


class MissedStats(BaseModel):
    days: list[DayStats] = Field(description="Oldest first; days without a miss have zeros.")
    missed: int
    recalled: int


@routes.get("/missed-calls", scope=Scope.CALLS_READ)
async def list_missed_calls(request: web.Request, query: MissedQuery) -> Page[MissedCall]:
    """List missed calls, newest first.

    `since`/`until` bound when the calls began; `recalled` picks recalled or open ones.
    """
    return await missed_page(api_deps(request), query)


async def missed_page(deps: ApiDeps, query: MissedQuery) -> Page[MissedCall]:
    """The list's page (the admin pages' missed calls read it too)."""
    since, until = query.bounds(deps.clock)
    number = None
    if query.number is not None:
        number = deps.billing.phones.normalise(query.number)
        if number is None:
            raise Invalid("not a phone number", field="number")
    rows = await deps.missed.page(
        query.limit + 1,
        before=query.after(),
        since=since,
        until=until,
        recalled=query.recalled,
        number=number,
    )
    return query.page([MissedCall.of(r) for r in rows], lambda c: c.id)


@routes.get("/missed-calls/stats", scope=Scope.CALLS_READ)
async def missed_call_stats(request: web.Request, query: StatsQuery) -> MissedStats:
    """Per day: missed calls, recalled, still open, unsuccessful recalls, average time to
    recall, as Ubilling's WhyDoYouCall keeps them."""
    return await missed_stats(api_deps(request), query.days)


async def missed_stats(deps: ApiDeps, days: int) -> MissedStats:
    """The last `days` days' figures (the admin pages' chart reads them too)."""
    per_day = await deps.missed.stats(days)
    return MissedStats(
        days=[
            DayStats(
                day=s.day,
                missed=s.missed,
                missed_numbers=s.missed_numbers,
                recalled=s.recalled,
                open=s.open,
                unsuccessful_attempts=s.unsuccessful_attempts,
                average_recall_seconds=s.average_recall_seconds,
            )
            for s in per_day
        ],
        missed=sum(s.missed for s in per_day),
        recalled=sum(s.recalled for s in per_day),
    )
