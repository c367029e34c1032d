"""/admin/campaigns: call-out campaigns for staff, on the REST API's own handlers.

Every read and change goes through the functions of web/api/campaign*.py, called with
the page's request (the admin application carries the API's `ApiDeps`, and the session
middleware sets the request's actor to `staff:<name>`), so the checks, the room calls and
the logs are the API's: no second implementation. A form becomes the API's body model
(`CampaignIn`, `CampaignChange`, `NumbersToRemove`), whose refusals are shown by field.
Pasted or uploaded numbers are read by the CLI's importer (callfile_spooler/imports.py:
CSV with `number`, `extension`, `VAR_*` columns, or JSON items such as the call-out
service's todo.json with `phone` and `context`); plain lines of numbers, each optionally
followed by `,extension`, are taken as CSV without its header.

Lists are paged by the API's cursors (a page deep in 10,000 numbers costs what the first
does). Every change is written to the audit journal (`staff_journal`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from multidict import MultiMapping
from pydantic import ValidationError

from callfile_spooler.campaigns import DEFAULT_CONTEXT, DEFAULT_EXTENSION
from callfile_spooler.errors import NumbersFileError
from callfile_spooler.imports import parse_numbers
from callfile_spooler.schedule import DAYS
from web.admin.deps import admin_deps
from web.admin.journal import staff_journal
from web.admin.layout import admin_page
from web.admin.paging import cursor_window
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.admin.session_middleware import see_other
from web.api import campaign_audio, campaign_numbers, campaign_reports, campaigns
from web.api.campaigns import (
    Campaign,
    CampaignChange,
    CampaignIn,
    CampaignPath,
    CampaignQuery,
    campaign_of,
)
from web.api.common import Page
from web.errors import ApiError, NotFound
from web.i18n import translator
from web.pages import page_language

routes = AdminRoutes()

LIST_SIZE = 20
NUMBERS_SIZE = 50
BASE = "/admin/campaigns"

MESSAGES: Final = {
    "created": "Campaign created. Add its numbers and its message.",
    "saved": "Settings saved.",
    "started": "Campaign started.",
    "paused": "Campaign paused.",
    "audio": "Message uploaded (%(seconds)s s).",
    "removed": "%(number)s removed.",
    "busy": "%(number)s is being called now: remove it once the call has ended.",
    "missing": "%(number)s is not in this campaign.",
    "imported": "Numbers: %(added)s added, %(updated)s updated, %(skipped)s skipped.",
    "no_numbers": "Paste numbers or choose a file.",
    "unreadable": "The numbers could not be read: %(problem)s",
}
"""What the pages say in English (web/i18n.py has the Ukrainian)."""
SAID: Final = frozenset({"created", "saved", "started", "paused"})
"""Messages a redirect may name in `?said=` (nothing else from the URL is shown)."""

STATES: Final = {
    "idle": "idle",
    "running": "running",
    "paused": "paused",
    "done": "done",
    "pending": "pending",
    "calling": "calling",
    "answered": "answered",
    "given_up": "given up",
    "dnc": "do not call",
}
"""Campaign and number states as the pages name them (messages)."""
DAY_NAMES: Final = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
PACING: Final = {"bundle": int, "delay": float, "max_concurrent": int, "cps": float}
"""The pacing fields of the form and their number kinds (the API's bodies are strict)."""

Notices = list[tuple[str, str]]


def _text(form: MultiMapping[Any], name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit].strip() if isinstance(value, str) else ""


def _number(text: str, kind: type[int] | type[float]) -> int | float | str | None:
    """A form's number; "" is None; what is no number stays text for the model to refuse."""
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return text


def settings_body(form: MultiMapping[Any]) -> dict[str, Any]:
    """The settings form as the API's body (CampaignIn / CampaignChange): the schedule's
    days left empty (or 00:00) have no run; no day at all is no schedule."""
    week = {day: _text(form, f"day_{day}", 8) for day in DAYS}
    given = {day: start for day, start in week.items() if start and start != "00:00"}
    pacing = {
        key: value
        for key, kind in PACING.items()
        if (value := _number(_text(form, key, 32), kind)) is not None
    }
    return {
        "name": _text(form, "name", 64),
        "context": _text(form, "context", 80) or DEFAULT_CONTEXT,
        "extension": _text(form, "extension", 80) or DEFAULT_EXTENSION,
        "callerid": _text(form, "callerid", 160) or None,
        "pacing": pacing,
        "window": _text(form, "window", 16) or None,
        "schedule": given or None,
        "max_attempts": _number(_text(form, "max_attempts", 8), int),
    }


def form_values(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the settings form shows back after a refusal: the values as typed."""
    pacing = body.get("pacing") or {}
    schedule = body.get("schedule") or {}
    return {
        "name": body.get("name") or "",
        "context": body.get("context") or "",
        "extension": body.get("extension") or "",
        "callerid": body.get("callerid") or "",
        "window": body.get("window") or "",
        "max_attempts": body.get("max_attempts") or "",
        **{key: pacing.get(key, "") for key in PACING},
        "days": {day: schedule.get(day, "") for day in DAYS},
    }


def campaign_values(c: Campaign) -> dict[str, Any]:
    """A stored campaign in the settings form."""
    week = c.schedule.model_dump() if c.schedule is not None else {}
    return {
        "name": c.name,
        "context": c.context,
        "extension": c.extension,
        "callerid": c.callerid or "",
        "window": c.window or "",
        "max_attempts": c.max_attempts or "",
        "bundle": c.pacing.bundle,
        "delay": f"{c.pacing.delay:g}",
        "max_concurrent": c.pacing.max_concurrent,
        "cps": f"{c.pacing.cps:g}",
        "days": {day: "" if week.get(day, "00:00") == "00:00" else week[day] for day in DAYS},
    }


def problems(exc: ValidationError) -> list[str]:
    """A model's refusals, each naming its field (`pacing.cps: …`)."""
    return [
        f"{'.'.join(str(p) for p in error['loc']) or 'form'}: {error['msg']}"
        for error in exc.errors()
    ]


def _say(request: web.Request, key: str, **values: object) -> str:
    return translator(page_language(request))(MESSAGES[key], **values)


def _path(request: web.Request) -> CampaignPath:
    try:
        return CampaignPath.model_validate({"id": request.match_info["id"]})
    except ValidationError:
        raise NotFound("no such campaign") from None


def _form_context(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"values": values, "days": DAY_NAMES, "default_context": DEFAULT_CONTEXT}


# --- the list -------------------------------------------------------------------------


@routes.get("/campaigns", Permission.VIEW)
async def campaign_list(request: web.Request) -> web.StreamResponse:
    query = CampaignQuery.model_validate(
        {"limit": LIST_SIZE, "cursor": request.query.get("cursor") or None}
    )
    page: Page[Campaign] = await campaigns.list_campaigns(request, query)
    rows = [
        await campaign_reports.campaign_status(request, CampaignPath(id=c.id)) for c in page.items
    ]
    context = {
        "window": cursor_window(request, rows, page.next),
        "states": STATES,
        "running": any(r.campaign.state == "running" for r in rows),
    }
    return admin_page(request, "admin/campaigns.html", context)


@routes.get("/campaigns/new", Permission.CAMPAIGNS)
async def new_campaign(request: web.Request) -> web.StreamResponse:
    values = form_values({"context": DEFAULT_CONTEXT, "extension": DEFAULT_EXTENSION})
    values.update({"max_concurrent": 5, "cps": 1, "bundle": 0, "delay": 0})
    return admin_page(request, "admin/campaign_new.html", {**_form_context(values), "notices": []})


@routes.post("/campaigns", Permission.CAMPAIGNS)
async def create(request: web.Request) -> web.StreamResponse:
    body = settings_body(await request.post())
    refused: list[str]
    try:
        made = await campaigns.create_campaign(request, CampaignIn.model_validate(body))
    except ValidationError as exc:
        refused = problems(exc)
    except ApiError as exc:
        refused = [exc.message]
    else:
        await staff_journal(request, "campaign", f"campaign {made.name} (id {made.id}) created")
        return see_other(f"{BASE}/{made.id}?said=created")
    notices: Notices = [("error", text) for text in refused]
    context = {**_form_context(form_values(body)), "notices": notices}
    return admin_page(request, "admin/campaign_new.html", context, status=422)


# --- one campaign ---------------------------------------------------------------------


async def _campaign_page(
    request: web.Request,
    path: CampaignPath,
    notices: Notices,
    *,
    values: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    state = await campaign_reports.campaign_status(request, path)
    wanted = request.query.get("status") or None
    try:
        query = campaign_reports.ReportQuery.model_validate(
            {"limit": NUMBERS_SIZE, "cursor": request.query.get("cursor") or None, "status": wanted}
        )
        report = await campaign_reports.campaign_report(request, path, query)
    except (ValidationError, ApiError):  # a cursor or status from elsewhere: the first page
        query = campaign_reports.ReportQuery(limit=NUMBERS_SIZE)
        report = await campaign_reports.campaign_report(request, path, query)
    said = request.query.get("said")
    if said in SAID and not notices:
        notices = [("ok", _say(request, said))]
    context = {
        **_form_context(values or campaign_values(state.campaign)),
        "status": state,
        "c": state.campaign,
        "numbers": cursor_window(request, report.items, report.next),
        "states": STATES,
        "shown": query.status,
        "notices": notices,
        "base": f"{BASE}/{path.id}",
    }
    return admin_page(request, "admin/campaign.html", context, status=status)


@routes.get("/campaigns/{id}", Permission.VIEW)
async def campaign(request: web.Request) -> web.StreamResponse:
    return await _campaign_page(request, _path(request), [])


@routes.post("/campaigns/{id}", Permission.CAMPAIGNS)
async def edit(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    body = settings_body(await request.post())
    refused: list[str]
    try:
        changed = await campaigns.edit_campaign(request, path, CampaignChange.model_validate(body))
    except ValidationError as exc:
        refused = problems(exc)
    except NotFound:
        raise
    except ApiError as exc:
        refused = [exc.message]
    else:
        await staff_journal(request, "campaign", f"campaign {changed.name}: settings saved")
        return see_other(f"{BASE}/{path.id}?said=saved")
    notices: Notices = [("error", text) for text in refused]
    return await _campaign_page(request, path, notices, values=form_values(body), status=422)


async def _run_change(request: web.Request, start: bool) -> web.StreamResponse:
    path = _path(request)
    change = campaigns.start_campaign if start else campaigns.pause_campaign
    try:
        done = await change(request, path)
    except NotFound:
        raise
    except ApiError as exc:
        return await _campaign_page(request, path, [("error", exc.message)], status=409)
    await staff_journal(request, "campaign", f"campaign {done.campaign.name}: {done.message}")
    return see_other(f"{BASE}/{path.id}?said={'started' if start else 'paused'}")


@routes.post("/campaigns/{id}/start", Permission.CAMPAIGNS)
async def start(request: web.Request) -> web.StreamResponse:
    return await _run_change(request, start=True)


@routes.post("/campaigns/{id}/pause", Permission.CAMPAIGNS)
async def pause(request: web.Request) -> web.StreamResponse:
    return await _run_change(request, start=False)


# --- numbers --------------------------------------------------------------------------


def as_numbers_file(text: str) -> str:
    """Pasted text as the importer reads it: JSON and CSV with a `number` header as they
    are; plain lines (`0501234567`, or `0501234567,2` with the extension) get the header
    they lack, and a line without an extension an empty one."""
    body = text.strip().removeprefix("\ufeff")
    if body.startswith("["):
        return body
    lines = [line.strip() for line in body.splitlines()]
    if lines and "number" in lines[0].lower():
        return body
    if not any("," in line for line in lines):
        return "number\n" + "\n".join(lines)
    return "number,extension\n" + "\n".join(
        line if "," in line or not line else f"{line}," for line in lines
    )


async def _numbers_text(request: web.Request) -> str:
    """The pasted numbers, or the chosen file's text (a file wins when both are given)."""
    form = await request.post()
    upload = form.get("file")
    if isinstance(upload, web.FileField):
        raw = await asyncio.to_thread(upload.file.read)
        if raw:
            return raw.decode("utf-8", errors="replace")
    pasted = form.get("numbers")
    return pasted if isinstance(pasted, str) else ""


@routes.post("/campaigns/{id}/numbers", Permission.CAMPAIGNS, upload=True)
async def add_numbers(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    deps = admin_deps(request).api
    info = await campaign_of(deps, path.id)
    text = await _numbers_text(request)
    if not text.strip():
        return await _campaign_page(
            request, path, [("error", _say(request, "no_numbers"))], status=422
        )
    try:
        parsed = await asyncio.to_thread(parse_numbers, as_numbers_file(text), deps.billing.phones)
    except NumbersFileError as exc:
        said = _say(request, "unreadable", problem=str(exc))
        return await _campaign_page(request, path, [("error", said)], status=422)
    with campaigns.still_there(path.id):
        report = await deps.campaigns.import_numbers(info.name, parsed)
    if report.queued:
        deps.wake_spooler()
    await staff_journal(request, "campaign", f"campaign {info.name}: numbers {report.summary()}")
    notices: Notices = [
        (
            "ok",
            _say(
                request,
                "imported",
                added=report.added,
                updated=report.updated,
                skipped=len(report.skipped),
            ),
        )
    ]
    notices += [("error", f"{line}: {why}") for line, why in report.skipped[:20]]
    return await _campaign_page(request, path, notices)


@routes.post("/campaigns/{id}/numbers/remove", Permission.CAMPAIGNS)
async def remove_number(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    number = _text(await request.post(), "number", 40)
    try:
        body = campaign_numbers.NumbersToRemove.model_validate({"numbers": [number]})
    except ValidationError as exc:
        return await _campaign_page(
            request, path, [("error", t) for t in problems(exc)], status=422
        )
    removed = await campaign_numbers.remove_numbers(request, path, body)
    if removed.busy:
        return await _campaign_page(
            request, path, [("error", _say(request, "busy", number=number))]
        )
    if not removed.removed:
        said = _say(request, "missing", number=number)
        return await _campaign_page(request, path, [("error", said)], status=422)
    info = await campaign_of(admin_deps(request).api, path.id)
    await staff_journal(request, "campaign", f"campaign {info.name}: {number} removed")
    return await _campaign_page(request, path, [("ok", _say(request, "removed", number=number))])


# --- message and report ---------------------------------------------------------------


@routes.post("/campaigns/{id}/audio", Permission.CAMPAIGNS, upload=True)
async def upload_audio(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    try:
        message = await campaign_audio.put_audio(request, path)
    except NotFound:
        raise
    except ApiError as exc:
        return await _campaign_page(request, path, [("error", exc.message)], status=exc.status)
    info = await campaign_of(admin_deps(request).api, path.id)
    await staff_journal(
        request, "campaign", f"campaign {info.name}: message {message.source} uploaded"
    )
    said = _say(request, "audio", seconds=f"{message.duration:.1f}")
    return await _campaign_page(request, path, [("ok", said)])


def _message_file(prompt: Path, sounds_dir: Path) -> Path | None:
    """The message's WAV when it is there, inside spool.sounds_dir (blocking)."""
    wav = Path(f"{prompt}.wav").resolve()
    if not wav.is_relative_to(sounds_dir.resolve()) or not wav.is_file():
        return None
    return wav


@routes.get("/campaigns/{id}/audio.wav", Permission.VIEW)
async def play_audio(request: web.Request) -> web.StreamResponse:
    """The campaign's message as its calls play it (8 kHz WAV), for the page's <audio>."""
    path = _path(request)
    deps = admin_deps(request).api
    info = await campaign_of(deps, path.id)
    message = await deps.audio.get(info.name)
    if message is None:
        raise NotFound("this campaign has no message yet")
    wav = await asyncio.to_thread(_message_file, message.prompt, deps.audio.settings.sounds_dir)
    if wav is None:
        raise NotFound("the message's file is missing")
    return web.FileResponse(wav, headers={"Content-Type": "audio/wav", "Cache-Control": "no-store"})


@routes.get("/campaigns/{id}/report.csv", Permission.VIEW)
async def report_csv(request: web.Request) -> web.StreamResponse:
    response: web.StreamResponse = await campaign_reports.campaign_report_csv(
        request, _path(request)
    )
    return response
