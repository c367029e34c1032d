"""`/campaigns/{id}/status`, `/report` and `/report.csv`: how a campaign's run goes.

The CSV export has the columns of `pbxbridge campaign report --csv` and is written by the
same code (callfile_spooler/report.py), spreadsheet-safe; it is streamed a page at a time,
so a campaign of any size costs one page of memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from callfile_spooler.campaigns import NumberReport
from callfile_spooler.errors import CampaignError
from callfile_spooler.outcomes import reason_words
from callfile_spooler.report import cells, csv_text
from web.api.campaign_audio import Message
from web.api.campaigns import Campaign, CampaignPath, campaign_of, still_there
from web.api.common import Page, PageQuery
from web.api.deps import api_deps
from web.api.routing import RouteTable
from web.tokens import Scope

routes = RouteTable("campaigns")

NumberState = Literal["idle", "pending", "calling", "answered", "given_up", "dnc"]
CSV_PAGE = 1000


class CampaignStatus(BaseModel):
    campaign: Campaign
    numbers: int = Field(description="Numbers in the campaign.")
    done: int = Field(description="Numbers done in the current run: answered, given up, DNC.")
    by_number_status: dict[str, int] = Field(
        description="Numbers by status: idle, pending, calling, answered, given_up, dnc."
    )
    calls: dict[str, int] = Field(
        description="Calls of the current run by status: queued, spooled, dialing, answered, "
        "busy, noanswer, congestion, failed, expired, cancelled."
    )
    message: Message | None = Field(
        description="What its calls play (PUT /campaigns/{id}/audio); null: none yet."
    )


class ReportQuery(PageQuery):
    status: NumberState | None = Field(default=None, description="Only numbers in this status.")


class NumberOutcome(BaseModel):
    """One number in the current run."""

    number: str
    extension: str | None
    status: NumberState
    attempts: int
    last_outcome: str | None = Field(description="answered, busy, noanswer, congestion, …")
    reason: int | None = Field(description="Asterisk's REASON code of the last attempt.")
    reason_text: str = Field(description="The reason in words.")
    digit: str | None = Field(description="What the callee pressed.")
    last_attempt_at: datetime | None

    @classmethod
    def of(cls, r: NumberReport) -> NumberOutcome:
        return cls(
            number=r.number,
            extension=r.extension,
            status=r.status,
            attempts=r.attempts,
            last_outcome=r.last_outcome,
            reason=r.last_reason,
            reason_text=reason_words(r.last_reason),
            digit=r.digit,
            last_attempt_at=r.last_attempt_at,
        )


@routes.get("/campaigns/{id}/status", scope=Scope.CAMPAIGNS, errors=(404,))
async def campaign_status(request: web.Request, path: CampaignPath) -> CampaignStatus:
    """Counts of the current run (numbers by status, calls by outcome) and its message."""
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    with still_there(path.id):
        status = await deps.campaigns.status(info.name)
        message = await deps.audio.get(info.name)
    return CampaignStatus(
        campaign=Campaign.of(status.info),
        numbers=status.numbers,
        done=status.done_numbers,
        by_number_status=status.by_number_status,
        calls=status.by_attempt_status,
        message=Message.of(message) if message is not None else None,
    )


@routes.get("/campaigns/{id}/report", scope=Scope.CAMPAIGNS, errors=(404,))
async def campaign_report(
    request: web.Request, path: CampaignPath, query: ReportQuery
) -> Page[NumberOutcome]:
    """Per number: status in the current run, attempts, last outcome and its reason (code
    and words), the digit pressed. In the order the numbers were added."""
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    with still_there(path.id):
        rows = await deps.campaigns.report_page(
            info.name, query.limit + 1, after=query.after(), status=query.status
        )
    shown = rows[: query.limit]
    return Page.of(
        [NumberOutcome.of(r) for r in shown],
        more=len(rows) > query.limit,
        last_id=shown[-1].id if shown else None,
    )


@routes.get(
    "/campaigns/{id}/report.csv", scope=Scope.CAMPAIGNS, errors=(404,), media_type="text/csv"
)
async def campaign_report_csv(request: web.Request, path: CampaignPath) -> web.StreamResponse:
    """The report as CSV: the columns of `pbxbridge campaign report --csv`.

    number, extension, status, attempts, last_outcome, reason, reason_text, digit,
    last_attempt (service timezone). A cell a spreadsheet would run as a formula is written
    with a leading `'`.
    """
    deps = api_deps(request)
    info = await campaign_of(deps, path.id)
    with still_there(path.id):
        rows = await deps.campaigns.report_page(info.name, CSV_PAGE)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="campaign-{info.id}-report.csv"',
        }
    )
    await response.prepare(request)
    header = True
    while True:
        chunk = csv_text([cells(r, deps.clock) for r in rows], header=header)
        await response.write(chunk.encode())
        header = False
        if len(rows) < CSV_PAGE:
            break
        try:
            rows = await deps.campaigns.report_page(info.name, CSV_PAGE, after=rows[-1].id)
        except CampaignError:  # deleted while it was read: what was sent stands
            break
    await response.write_eof()
    return response
