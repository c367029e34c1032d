"""`/calls`: the call log, every call the service recorded from AMI `Cdr` events (one
per linkedid); missed calls are the ones with `missed` true (`/missed-calls` lists those
with their statistics).

The same rows `pbxbridge calls list` reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from billing_client.subscriber import STATUS_WORDS
from call_log import records
from web.api.common import PHONE_PATTERN, DateQuery, Page, PageQuery, RowId
from web.api.deps import ApiDeps, api_deps
from web.api.routing import ApiInput, RouteTable
from web.errors import NotFound
from web.tokens import Scope

routes = RouteTable("calls")

Disposition = Literal["ANSWERED", "NO ANSWER", "BUSY", "FAILED"]


class CallsQuery(PageQuery, DateQuery):
    number: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=PHONE_PATTERN,
        description=(
            "Only calls with this number as caller, callee or outside party (any written "
            "form of a phone number, or an extension as Asterisk wrote it)."
        ),
    )
    direction: Literal["incoming", "outgoing", "internal"] | None = Field(
        default=None, description="Only calls of this direction."
    )
    disposition: Disposition | None = Field(
        default=None, description="Only calls that ended so (Asterisk's words)."
    )


class CallPath(ApiInput):
    id: RowId = Field(description="The call's id.")


class Call(BaseModel):
    id: int
    linkedid: str = Field(description="Asterisk's linkedid: every leg of the call shares it.")
    caller: str = Field(description="The caller's number as Asterisk gave it.")
    callee: str = Field(description="What was dialled (an extension, a number, a queue's exten).")
    number: str | None = Field(
        description="The outside party's number (E.164 when it parsed); null for internal calls."
    )
    direction: Literal["incoming", "outgoing", "internal"]
    disposition: str = Field(description="ANSWERED, NO ANSWER, BUSY or FAILED.")
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    duration: int = Field(description="Seconds from start to end.")
    billsec: int = Field(description="Seconds talked.")
    queue: str | None
    answered_by: str | None = Field(description="The channel that picked up.")
    recording: str | None = Field(description="MixMonitor's file name, when known.")
    login: str | None = Field(description="The subscriber the outside number belongs to.")
    name: str | None
    status: Literal["unknown", "active", "debtor", "frozen"] | None
    lookup: str = Field(description="ok, notfound, skipped, or pending (billing not asked yet).")
    missed: bool = Field(description="A missed inbound call (see /missed-calls).")
    recalled_at: datetime | None = Field(description="A missed call's recall, when there was one.")

    @classmethod
    def of(cls, call: records.Call) -> Call:
        return cls(
            id=call.id,
            linkedid=call.linkedid,
            caller=call.caller,
            callee=call.callee,
            number=call.number,
            direction=call.direction,
            disposition=call.disposition,
            started_at=call.started_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            duration=call.duration,
            billsec=call.billsec,
            queue=call.queue,
            answered_by=call.answered_by,
            recording=call.recording,
            login=call.login,
            name=call.name,
            status=STATUS_WORDS[call.status] if call.status is not None else None,
            lookup=call.lookup,
            missed=call.missed,
            recalled_at=call.recalled_at,
        )


@routes.get("/calls", scope=Scope.CALLS_READ)
async def list_calls(request: web.Request, query: CallsQuery) -> Page[Call]:
    """List the call log, newest first.

    `since`/`until` bound when the calls began; `number` matches the caller, the callee or
    the outside party's number; `direction` and `disposition` pick one kind.
    """
    return await calls_page(api_deps(request), query)


async def calls_page(deps: ApiDeps, query: CallsQuery) -> Page[Call]:
    """The list's page (the admin pages' call log reads it too)."""
    since, until = query.bounds(deps.clock)
    numbers: list[str] = []
    if query.number is not None:
        numbers.append(query.number.strip())
        normalised = deps.billing.phones.normalise(query.number)
        if normalised is not None:
            numbers.append(normalised)
    rows = await deps.calls.page(
        query.limit + 1,
        before=query.after(),
        since=since,
        until=until,
        numbers=numbers,
        direction=query.direction,
        disposition=query.disposition,
    )
    return query.page([Call.of(r) for r in rows], lambda c: c.id)


@routes.get("/calls/{id}", scope=Scope.CALLS_READ, errors=(404,))
async def get_call(request: web.Request, path: CallPath) -> Call:
    """One call of the log."""
    call = await api_deps(request).calls.get(path.id)
    if call is None:
        raise NotFound(f"no call {path.id}")
    return Call.of(call)
