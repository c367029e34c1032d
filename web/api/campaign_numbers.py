"""`/campaigns/{id}/numbers`: add and remove a campaign's numbers, in bulk.

Adding takes the items of `pbxbridge campaign import`'s JSON format (a number, an optional
extension, which the old `context` key also names, and channel variables in `vars`, the
CSV import's `VAR_<NAME>` columns) and goes through the same parser: one normaliser, the
call-file checks of every extension, variable name and value. As with the CLI, good items
land and bad ones are reported by position, not fatal.
"""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callfile_spooler.imports import MAX_VARIABLES, parse_items
from web.api.campaigns import CampaignPath, campaign_of, still_there
from web.api.deps import actor, api_deps
from web.api.routing import ApiBody, RouteTable
from web.tokens import Scope

log = logging.getLogger("pbxbridge.web.api")

routes = RouteTable("campaigns")

MAX_ITEMS = 10_000
"""Numbers per request (a larger list: several requests; each is one transaction)."""


class NumberItem(ApiBody):
    model_config = ConfigDict(allow_inf_nan=False)

    number: str = Field(
        min_length=1, max_length=40, description="Any written form.", examples=["0501234567"]
    )
    extension: str | None = Field(
        default=None,
        max_length=79,
        description="Where its answered call goes (IVR code).",
        examples=["1"],
    )
    context: str | None = Field(
        default=None, max_length=79, description="Another name for `extension` (todo.json)."
    )
    vars: dict[str, str | int | float] = Field(
        default_factory=dict,
        max_length=MAX_VARIABLES,
        description="Channel variables of its call (not CAMPAIGN_*, pbxbridge's own).",
        examples=[{"DEBT": "120"}],
    )


class NumbersToAdd(ApiBody):
    numbers: list[NumberItem | str] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description=(
            "Each a number, or an object with its extension and channel variables. A number "
            "already in the campaign gets the item's extension and variables."
        ),
    )


class Skipped(BaseModel):
    index: int = Field(description="Position of the item in `numbers`, from 1.")
    reason: str


class NumbersAdded(BaseModel):
    added: int
    updated: int = Field(description="Numbers already there, given the item's values.")
    queued: int = Field(description="Numbers added to a run under way, queued into it.")
    skipped: list[Skipped]


class NumbersToRemove(ApiBody):
    numbers: list[str] = Field(
        min_length=1, max_length=MAX_ITEMS, description="Numbers to remove, any written form."
    )


class NumbersRemoved(BaseModel):
    removed: int
    missing: list[str] = Field(description="Not in the campaign (E.164), or no phone number.")
    busy: list[str] = Field(
        description="A call to them is in Asterisk's hands now: kept; remove them once it ended."
    )


@routes.post("/campaigns/{id}/numbers", scope=Scope.CAMPAIGNS, errors=(404,))
async def add_numbers(request: web.Request, path: CampaignPath, body: NumbersToAdd) -> NumbersAdded:
    """Add numbers to a campaign.

    Items as `pbxbridge campaign import` reads JSON: `"0501234567"`, or `{"number": …,
    "extension": "2", "vars": {"NAME": "value"}}` (`context` is taken for `extension`, as
    in the call-out service's todo.json). Items that cannot be used are skipped and listed
    with their position and reason; the others land. Numbers added while a run is under way
    join that run.
    """
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    items: list[object] = [
        item.model_dump(exclude_none=True) if isinstance(item, NumberItem) else item
        for item in body.numbers
    ]
    parsed = parse_items(items, deps.billing.phones)
    with still_there(path.id):
        report = await deps.campaigns.import_numbers(info.name, parsed)
    if report.queued:
        deps.wake_spooler()
    log.info("campaign %s: numbers %s (by %s)", info.name, report.summary(), actor(request))
    return NumbersAdded(
        added=report.added,
        updated=report.updated,
        queued=report.queued,
        skipped=[Skipped(index=line, reason=why) for line, why in report.skipped],
    )


@routes.delete("/campaigns/{id}/numbers", scope=Scope.CAMPAIGNS, errors=(404,))
async def remove_numbers(
    request: web.Request, path: CampaignPath, body: NumbersToRemove
) -> NumbersRemoved:
    """Remove numbers from a campaign, with their call history.

    A number whose call Asterisk is placing now stays (listed in `busy`).
    """
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    phones = deps.billing.phones
    wanted: list[str] = []
    invalid: list[str] = []
    for raw in body.numbers:
        number = phones.normalise(raw)
        if number is None:
            invalid.append(raw[:40])
        else:
            wanted.append(number)
    with still_there(path.id):
        report = await deps.campaigns.remove_numbers(info.name, wanted)
    log.info("campaign %s: %d number(s) removed by %s", info.name, report.removed, actor(request))
    return NumbersRemoved(
        removed=report.removed, missing=invalid + report.missing, busy=report.busy
    )
