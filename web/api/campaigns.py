"""`/campaigns`: create, edit, schedule, start and pause call-out campaigns.

Campaigns are named by id in paths (a name can be changed; `GET /campaigns?name=…` finds
one by name). Everything goes through the spooler's `CampaignManager`, as `pbxbridge
campaign …` does, with the same checks: a value a call file cannot carry is refused here,
before it is stored. The campaigns behind callback requests are not campaigns of this
resource (see `/callbacks`). Numbers, audio and reports are in campaign_numbers.py,
campaign_audio.py and campaign_reports.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callfile_spooler import escape
from callfile_spooler.campaigns import (
    DEFAULT_CONTEXT,
    DEFAULT_EXTENSION,
    KIND,
    NAME,
    CampaignInfo,
    CampaignSettings,
    check_name,
)
from callfile_spooler.errors import CampaignError
from callfile_spooler.pacing import MAX_BUNDLE_DELAY, MIN_CPS
from callfile_spooler.schedule import DAYS, TimeWindow, WeeklySchedule
from web.api.common import DateQuery, Page, PageQuery, RowId
from web.api.deps import ApiDeps, actor, api_deps
from web.api.routing import ApiBody, ApiInput, RouteTable
from web.errors import Conflict, NotFound
from web.tokens import Scope

log = logging.getLogger("pbxbridge.web.api")

routes = RouteTable("campaigns")

CampaignState = Literal["idle", "running", "paused", "done"]
NAME_PATTERN = f"^{NAME.pattern}$"
TIME_PATTERN = r"^[0-9]{2}:[0-9]{2}$"
WINDOW_PATTERN = r"^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$"
CONTEXT_PATTERN = f"^{escape.CONTEXT.pattern}$"
EXTENSION_PATTERN = f"^{escape.EXTENSION.pattern}$"
MAX_CONCURRENT = 1000
MAX_CPS = 1000.0
MAX_BUNDLE = 100_000


# --- inputs ---------------------------------------------------------------------------


class CampaignPath(ApiInput):
    id: RowId = Field(description="The campaign's id.")


class Week(ApiBody):
    """The weekly schedule (the call-out service's week.json): a start time per weekday,
    HH:MM in the service's timezone; a day left out or at 00:00 has no run."""

    mon: str | None = Field(default=None, pattern=TIME_PATTERN)
    tue: str | None = Field(default=None, pattern=TIME_PATTERN)
    wed: str | None = Field(default=None, pattern=TIME_PATTERN)
    thu: str | None = Field(default=None, pattern=TIME_PATTERN)
    fri: str | None = Field(default=None, pattern=TIME_PATTERN)
    sat: str | None = Field(default=None, pattern=TIME_PATTERN)
    sun: str | None = Field(default=None, pattern=TIME_PATTERN)

    @model_validator(mode="after")
    def _readable(self) -> Week:
        self.schedule()  # ScheduleError is a ValueError: 422 naming the schedule
        return self

    def schedule(self) -> WeeklySchedule:
        given = {day: value for day, value in self.model_dump().items() if value is not None}
        return WeeklySchedule.from_mapping(given)


class Pacing(ApiBody):
    """How fast calls are placed (all four hold at once)."""

    model_config = ConfigDict(allow_inf_nan=False)

    bundle: int = Field(
        default=0, ge=0, le=MAX_BUNDLE, description="Calls per bundle; 0: no bundles."
    )
    delay: float = Field(
        default=0.0, ge=0, le=MAX_BUNDLE_DELAY, description="Seconds of pause between bundles."
    )
    max_concurrent: int = Field(
        default=5, ge=1, le=MAX_CONCURRENT, description="Calls alive at once."
    )
    cps: float = Field(
        default=1.0, ge=MIN_CPS, le=MAX_CPS, description="New calls per second (0.5: one in 2 s)."
    )


class PacingChange(ApiBody):
    """Pacing values to change; those left out stay."""

    model_config = ConfigDict(allow_inf_nan=False)

    bundle: int | None = Field(default=None, ge=0, le=MAX_BUNDLE)
    delay: float | None = Field(default=None, ge=0, le=MAX_BUNDLE_DELAY)
    max_concurrent: int | None = Field(default=None, ge=1, le=MAX_CONCURRENT)
    cps: float | None = Field(default=None, ge=MIN_CPS, le=MAX_CPS)


def _context(value: str) -> str:
    return escape.context(value)


def _extension(value: str) -> str:
    return escape.extension(value)


def _callerid(value: str | None) -> str | None:
    return escape.callerid(value) if value is not None else None


def _window(value: str | None) -> str | None:
    return str(TimeWindow.parse(value)) if value is not None else None


def _name(value: str) -> str:
    try:
        return check_name(value)
    except CampaignError as exc:
        raise ValueError(str(exc)) from None


class _Checked(ApiBody):
    """The checks the room makes when a campaign is stored, made per field, so that a
    refusal names its field."""

    @field_validator("name", check_fields=False)
    @classmethod
    def _name_ok(cls, value: str | None) -> str | None:
        return _name(value) if value is not None else None

    @field_validator("context", check_fields=False)
    @classmethod
    def _context_ok(cls, value: str | None) -> str | None:
        return _context(value) if value is not None else None

    @field_validator("extension", check_fields=False)
    @classmethod
    def _extension_ok(cls, value: str | None) -> str | None:
        return _extension(value) if value is not None else None

    @field_validator("callerid", check_fields=False)
    @classmethod
    def _callerid_ok(cls, value: str | None) -> str | None:
        return _callerid(value)

    @field_validator("window", check_fields=False)
    @classmethod
    def _window_ok(cls, value: str | None) -> str | None:
        return _window(value)


class CampaignIn(_Checked):
    name: str = Field(
        pattern=NAME_PATTERN,
        description="Unique; letters, digits, _ . -",
        examples=["debtors-december"],
    )
    context: str = Field(
        default=DEFAULT_CONTEXT,
        pattern=CONTEXT_PATTERN,
        description="Dialplan context answered calls go to.",
    )
    extension: str = Field(
        default=DEFAULT_EXTENSION,
        pattern=EXTENSION_PATTERN,
        description="Extension in that context (a number's own extension wins).",
    )
    callerid: str | None = Field(
        default=None,
        max_length=160,
        description='CallerID: "Name" <number> or a number; null: spool.callerid.',
        examples=['"ISP" <0441234567>'],
    )
    pacing: Pacing = Field(default_factory=Pacing)
    window: str | None = Field(
        default=None,
        pattern=WINDOW_PATTERN,
        description="Hours calls may start, HH:MM-HH:MM (service timezone); null: any time.",
        examples=["09:00-20:00"],
    )
    schedule: Week | None = Field(default=None, description="null: start by hand only.")
    max_attempts: int | None = Field(
        default=None, ge=1, le=20, description="Per number and run; null: spool.max_attempts."
    )

    def settings(self) -> CampaignSettings:
        return CampaignSettings(
            context=self.context,
            extension=self.extension,
            callerid=self.callerid,
            bundle_size=self.pacing.bundle,
            bundle_delay=self.pacing.delay,
            max_concurrent=self.pacing.max_concurrent,
            cps=self.pacing.cps,
            window=self.window,
            schedule=self.schedule.schedule() if self.schedule is not None else None,
            max_attempts=self.max_attempts,
        )


class CampaignChange(_Checked):
    """Only the fields given change; `null` clears callerid, window, schedule and
    max_attempts (back to the defaults)."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    context: str | None = Field(default=None, pattern=CONTEXT_PATTERN)
    extension: str | None = Field(default=None, pattern=EXTENSION_PATTERN)
    callerid: str | None = Field(default=None, max_length=160)
    pacing: PacingChange | None = None
    window: str | None = Field(default=None, pattern=WINDOW_PATTERN)
    schedule: Week | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=20)

    def changes(self) -> dict[str, Any]:
        """CampaignManager.edit's keywords for what was given (not the name)."""
        given = self.model_fields_set
        out: dict[str, Any] = {}
        for key in ("context", "extension"):
            value = getattr(self, key)
            if key in given and value is not None:
                out[key] = value
        for key in ("callerid", "window", "max_attempts"):
            if key in given:
                out[key] = getattr(self, key)
        if "schedule" in given:
            out["schedule"] = self.schedule.schedule() if self.schedule is not None else None
        if self.pacing is not None:
            names = {
                "bundle": "bundle_size",
                "delay": "bundle_delay",
                "max_concurrent": "max_concurrent",
                "cps": "cps",
            }
            for key, value in self.pacing.model_dump(exclude_unset=True).items():
                if value is not None:
                    out[names[key]] = value
        return out


class CampaignQuery(PageQuery, DateQuery):
    name: str | None = Field(
        default=None, max_length=64, description="Only the campaign with this name."
    )
    state: CampaignState | None = None


# --- answers --------------------------------------------------------------------------


class CampaignPacing(BaseModel):
    bundle: int
    delay: float
    max_concurrent: int
    cps: float


class CampaignWeek(BaseModel):
    """Every day; `00:00` for a day without a run."""

    mon: str
    tue: str
    wed: str
    thu: str
    fri: str
    sat: str
    sun: str

    @classmethod
    def of(cls, schedule: WeeklySchedule) -> CampaignWeek:
        starts = dict(schedule.starts)
        return cls(
            **{day: starts[day].strftime("%H:%M") if day in starts else "00:00" for day in DAYS}
        )


class Campaign(BaseModel):
    id: int
    name: str
    state: CampaignState
    run: int = Field(description="Runs begun so far (the current one when running).")
    context: str
    extension: str
    callerid: str | None = Field(description="null: spool.callerid.")
    pacing: CampaignPacing
    window: str | None
    schedule: CampaignWeek | None
    max_attempts: int | None = Field(description="null: spool.max_attempts.")
    last_run_on: date | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, info: CampaignInfo) -> Campaign:
        s = info.settings
        return cls(
            id=info.id,
            name=info.name,
            state=info.state.value,
            run=info.run_no,
            context=s.context,
            extension=s.extension,
            callerid=s.callerid,
            pacing=CampaignPacing(
                bundle=s.bundle_size,
                delay=s.bundle_delay,
                max_concurrent=s.max_concurrent,
                cps=s.cps,
            ),
            window=s.window,
            schedule=CampaignWeek.of(s.schedule) if s.schedule is not None else None,
            max_attempts=s.max_attempts,
            last_run_on=info.last_run_on,
            created_at=info.created_at,
            started_at=info.started_at,
            finished_at=info.finished_at,
        )


class RunChange(BaseModel):
    message: str = Field(description="What happened, in words.")
    campaign: Campaign


# --- shared by the campaign modules ---------------------------------------------------


@contextmanager
def still_there(campaign_id: int) -> Iterator[None]:
    """Around a room call after `campaign_of` found the campaign: a CampaignError then says
    it was deleted meanwhile (`pbxbridge campaign delete`): 404, not 500."""
    try:
        yield
    except CampaignError:
        raise NotFound(f"no campaign {campaign_id}") from None


async def campaign_of(deps: ApiDeps, campaign_id: int) -> CampaignInfo:
    """Campaign `campaign_id`, or 404 (also for the campaign of a callback request)."""
    info = await deps.campaigns.get_by_id(campaign_id)
    if info is None or info.kind != KIND:
        raise NotFound(f"no campaign {campaign_id}")
    return info


# --- routes ---------------------------------------------------------------------------


@routes.post(
    "/campaigns", scope=Scope.CAMPAIGNS, status=201, errors=(409,), location="/campaigns/{id}"
)
async def create_campaign(request: web.Request, body: CampaignIn) -> Campaign:
    """Create a campaign.

    Then add its numbers (`POST /campaigns/{id}/numbers`), its message (`PUT
    /campaigns/{id}/audio`) and start it (`POST /campaigns/{id}/start`) or give it a
    schedule. 409 when the name is taken.
    """
    deps = api_deps(request)
    try:
        info = await deps.campaigns.create(body.name, body.settings())
    except CampaignError as exc:  # every value was checked above: the name is taken
        raise Conflict(str(exc), field="name") from None
    log.info("campaign %s (id %d) created by %s", info.name, info.id, actor(request))
    return Campaign.of(info)


@routes.get("/campaigns", scope=Scope.CAMPAIGNS)
async def list_campaigns(request: web.Request, query: CampaignQuery) -> Page[Campaign]:
    """List campaigns, newest first.

    `name` finds one by its name; `since`/`until` bound when they were created.
    """
    deps = api_deps(request)
    since, until = query.bounds(deps.clock)
    rows = await deps.campaigns.page(
        query.limit + 1,
        before=query.after(),
        name=query.name,
        state=query.state,
        since=since,
        until=until,
    )
    return query.page([Campaign.of(r) for r in rows], lambda c: c.id)


@routes.get("/campaigns/{id}", scope=Scope.CAMPAIGNS, errors=(404,))
async def get_campaign(request: web.Request, path: CampaignPath) -> Campaign:
    """One campaign's settings and state."""
    return Campaign.of(await campaign_of(api_deps(request), path.id))


@routes.patch("/campaigns/{id}", scope=Scope.CAMPAIGNS, errors=(404, 409))
async def edit_campaign(request: web.Request, path: CampaignPath, body: CampaignChange) -> Campaign:
    """Change a campaign's name or settings.

    Only the fields given change (pacing: only the values given). `null` clears callerid,
    window, schedule and max_attempts. A running campaign uses the new settings from its
    next call on. 409 when the new name is taken.
    """
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    name = info.name
    if body.name is not None and body.name != name:
        try:
            info = await deps.campaigns.rename(name, body.name)
        except CampaignError as exc:
            raise Conflict(str(exc), field="name") from None
        name = info.name
    changes = body.changes()
    if changes:
        try:
            info = await deps.campaigns.edit(name, **changes)
        except CampaignError as exc:  # the values were checked; only a race gets here
            raise Conflict(str(exc)) from None
    log.info("campaign %s (id %d) edited by %s", info.name, info.id, actor(request))
    return Campaign.of(info)


@routes.put("/campaigns/{id}/schedule", scope=Scope.CAMPAIGNS, errors=(404,))
async def set_schedule(request: web.Request, path: CampaignPath, body: Week) -> Campaign:
    """Set the weekly schedule.

    The body is the week.json shape: `{"mon": "09:00", …, "sun": "00:00"}`; a day left out
    or at 00:00 has no run. Each run calls every number once (with retries); a run begun
    by hand counts for its day.
    """
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    with still_there(path.id):
        info = await deps.campaigns.edit(info.name, schedule=body.schedule())
    log.info("campaign %s: schedule set by %s", info.name, actor(request))
    return Campaign.of(info)


@routes.delete("/campaigns/{id}/schedule", scope=Scope.CAMPAIGNS, errors=(404,))
async def clear_schedule(request: web.Request, path: CampaignPath) -> Campaign:
    """Remove the weekly schedule (the campaign then runs when started by hand)."""
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    with still_there(path.id):
        info = await deps.campaigns.edit(info.name, schedule=None)
    log.info("campaign %s: schedule removed by %s", info.name, actor(request))
    return Campaign.of(info)


@routes.post("/campaigns/{id}/start", scope=Scope.CAMPAIGNS, errors=(404, 409))
async def start_campaign(request: web.Request, path: CampaignPath) -> RunChange:
    """Run the campaign now, whatever its schedule.

    A paused run resumes; otherwise a new run begins and queues every number (those on the
    do-not-call list are skipped). 409 when it has no numbers.
    """
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    try:
        message = await deps.campaigns.start(info.name)
    except CampaignError as exc:
        raise Conflict(str(exc)) from None
    deps.wake_spooler()
    log.info("campaign %s: %s (by %s)", info.name, message, actor(request))
    return RunChange(message=message, campaign=Campaign.of(await campaign_of(deps, path.id)))


@routes.post("/campaigns/{id}/pause", scope=Scope.CAMPAIGNS, errors=(404, 409))
async def pause_campaign(request: web.Request, path: CampaignPath) -> RunChange:
    """Stop placing the campaign's calls.

    Calls under way finish; call files Asterisk has not started yet are taken back. `start`
    resumes the run. 409 when it is not running.
    """
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    try:
        message = await deps.campaigns.pause(info.name)
    except CampaignError as exc:
        raise Conflict(str(exc)) from None
    deps.wake_spooler()
    log.info("campaign %s paused by %s", info.name, actor(request))
    return RunChange(message=message, campaign=Campaign.of(await campaign_of(deps, path.id)))
