"""`/callbacks`: ask for a call back, see the requests and what became of their calls, cancel.

A request goes through the spooler's `CallbackService`, as `pbxbridge callback request` and
the staff bot's do: one normaliser, the do-not-call list, `callback.max_per_hour`, one
callback per number at a time. A refused request is recorded all the same (it is in the
list, state `refused`) and answered 409, or 429 with Retry-After for the hourly limit.
`source` is `api:<token name>`, as the CLI's is `cli:<user>`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from callfile_spooler.callbacks import CallbackInfo, Refusal
from callfile_spooler.errors import CallbackError
from web.api.common import PHONE_PATTERN, DateQuery, IsoDateTime, Page, PageQuery, RowId
from web.api.deps import ApiDeps, actor, api_deps
from web.api.routing import ApiBody, ApiInput, RouteTable
from web.errors import Conflict, Invalid, NotFound, RateLimited
from web.tokens import Scope

routes = RouteTable("callbacks")

CallbackState = Literal["refused", "cancelled", "pending", "calling", "answered", "given_up", "dnc"]
MAX_AHEAD = timedelta(days=30)
"""How far ahead a callback may be asked for."""


class CallbackIn(ApiBody):
    number: str = Field(
        min_length=1,
        max_length=40,
        pattern=PHONE_PATTERN,
        description="Any written form.",
        examples=["0501234567"],
    )
    name: str | None = Field(
        default=None,
        max_length=80,
        description="Who asked (shown to operators).",
        examples=["Ivan Petrenko"],
    )
    comment: str | None = Field(
        default=None, max_length=500, description="What it is about.", examples=["No internet"]
    )
    when: IsoDateTime | None = Field(
        default=None,
        description=(
            "Call at this time at the earliest (ISO date-time; without an offset, in the "
            "service's timezone); at most 30 days ahead. Default: now."
        ),
    )


class CallbackPath(ApiInput):
    id: RowId = Field(description="The callback's id.")


class CallbackQuery(PageQuery, DateQuery):
    state: CallbackState | None = Field(default=None, description="Only requests in this state.")


class Callback(BaseModel):
    """A callback request and its call."""

    id: int
    number: str = Field(description="E.164.")
    name: str | None
    comment: str | None
    state: CallbackState = Field(
        description=(
            "refused (see reason), cancelled, or its call's: pending (waiting for its time, "
            "the window or a line), calling, answered, given_up (every attempt failed), dnc."
        )
    )
    reason: str = Field(description="Why it was refused, or who cancelled it.")
    source: str = Field(description="Who asked: api:<token>, cli:<user>, telegram:<chat>, web…")
    client_ip: str | None = Field(description="The address a web form's request came from.")
    requested_at: datetime
    not_before: datetime | None = Field(description="When it may be called at the earliest.")
    attempts: int
    last_outcome: str | None = Field(description="Of the last call: answered, busy, noanswer, …")
    login: str | None = Field(description="The subscriber the number belongs to.")
    subscriber_name: str | None
    ubilling: Literal["sent", "failed"] | None = Field(
        description="Copied into Ubilling's CallMeBack list (Ubilling billing only)."
    )

    @classmethod
    def of(cls, info: CallbackInfo) -> Callback:
        return cls(
            id=info.id,
            number=info.number,
            name=info.name,
            comment=info.comment,
            state=info.state,
            reason=info.reason,
            source=info.source,
            client_ip=info.client_ip,
            requested_at=info.requested_at,
            not_before=info.not_before,
            attempts=info.attempts,
            last_outcome=info.last_outcome,
            login=info.login,
            subscriber_name=info.subscriber_name,
            ubilling=info.ubilling,
        )


def _when(request: web.Request, when: datetime | None) -> datetime | None:
    if when is None:
        return None
    clock = api_deps(request).clock
    at = when if when.tzinfo is not None else when.replace(tzinfo=clock.tz)
    try:
        too_late = at - clock.now() > MAX_AHEAD
        at.astimezone(clock.tz)  # the service converts it; a year 1 or 9999 would overflow
    except OverflowError:
        raise Invalid("a time out of range", field="when") from None
    if too_late:
        raise Invalid("at most 30 days ahead", field="when")
    return at


@routes.post(
    "/callbacks", scope=Scope.CALLBACKS, status=201, errors=(409, 429), location="/callbacks/{id}"
)
async def create_callback(request: web.Request, body: CallbackIn) -> Callback:
    """Ask for a callback.

    The service calls the number back (in `callback.mode`: customer first, or an operator
    first), within `callback.window`, retrying as configured. The same rules as `pbxbridge
    callback request`: 409 when the number is on the do-not-call list or a callback to it
    is under way, 429 (with Retry-After) past `callback.max_per_hour`, 409 when callbacks
    are off. A refused request is recorded all the same.
    """
    deps = api_deps(request)
    service = deps.callbacks
    if not service.settings.enabled:
        raise Conflict("callbacks are off (callback.enabled = false)")
    if deps.billing.phones.normalise(body.number) is None:
        raise Invalid("not a phone number", field="number")
    at = _when(request, body.when)
    try:
        result = await service.request(
            body.number, name=body.name, comment=body.comment, source=actor(request), at=at
        )
    except CallbackError as exc:  # what was checked above cannot get here
        raise Invalid(str(exc), field="number") from None
    if not result.accepted:
        message = f"callback #{result.id} to {result.number} refused: {result.reason}"
        if result.refusal is Refusal.TOO_MANY:
            raise RateLimited(message, retry_after=result.retry_after or 60)
        raise Conflict(message, field="number")
    info = await service.get(result.id)
    assert info is not None
    return Callback.of(info)


@routes.get("/callbacks", scope=Scope.CALLBACKS)
async def list_callbacks(request: web.Request, query: CallbackQuery) -> Page[Callback]:
    """List callback requests, newest first (refused ones too).

    `since`/`until` bound when they were requested; `state` picks one state.
    """
    return await callbacks_page(api_deps(request), query)


async def callbacks_page(deps: ApiDeps, query: CallbackQuery) -> Page[Callback]:
    """The list's page (the admin pages' callbacks read it too)."""
    since, until = query.bounds(deps.clock)
    rows = await deps.callbacks.page(
        query.limit + 1, before=query.after(), since=since, until=until, state=query.state
    )
    return query.page([Callback.of(r) for r in rows], lambda c: c.id)


@routes.get("/callbacks/{id}", scope=Scope.CALLBACKS, errors=(404,))
async def get_callback(request: web.Request, path: CallbackPath) -> Callback:
    """One callback request and its call."""
    info = await api_deps(request).callbacks.get(path.id)
    if info is None:
        raise NotFound(f"no callback {path.id}")
    return Callback.of(info)


@routes.post("/callbacks/{id}/cancel", scope=Scope.CALLBACKS, errors=(404, 409))
async def cancel_callback(request: web.Request, path: CallbackPath) -> Callback:
    """Cancel a callback: no further call is placed.

    A call Asterisk is placing at that moment is not stopped (its outcome is still
    recorded). Who cancelled is kept in `reason`. 409 when there is nothing to cancel: the
    request was refused, is cancelled already, or its call is over.
    """
    try:
        info = await api_deps(request).callbacks.cancel(path.id, actor=actor(request))
    except CallbackError as exc:
        raise Conflict(str(exc)) from None
    if info is None:
        raise NotFound(f"no callback {path.id}")
    return Callback.of(info)
