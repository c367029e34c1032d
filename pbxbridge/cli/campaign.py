"""`pbxbridge campaign …`: call-out campaigns (the service, `pbxbridge run`, places the calls).

Everything here changes the database only; the running service picks changes up at its
next tick (a pause also takes the campaign's not-yet-started call files back out of
Asterisk's outgoing/ folder).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from callfile_spooler.audio import CampaignAudio
from callfile_spooler.campaigns import (
    CampaignInfo,
    CampaignManager,
    CampaignSettings,
    CampaignStatus,
)
from callfile_spooler.errors import CallfileSpoolerError, ScheduleError
from callfile_spooler.report import COLUMNS, write_csv
from callfile_spooler.report import cells as report_cells
from callfile_spooler.schedule import TimeWindow, WeeklySchedule
from pbxbridge.app import Core
from pbxbridge.cli.common import with_core
from pbxbridge.cli.files import private_text
from pbxbridge.cli.format import echo_err, local_time, table
from pbxbridge.cli.progress import Progress

F = TypeVar("F", bound=Callable[..., Any])

NUMBER_STATES = ("answered", "calling", "pending", "given_up", "dnc", "idle")
ATTEMPT_STATES = (
    "queued",
    "spooled",
    "dialing",
    "answered",
    "busy",
    "noanswer",
    "congestion",
    "failed",
    "expired",
    "cancelled",
)


def manager(core: Core) -> CampaignManager:
    return CampaignManager(core.sessions, core.clock, core.phones)


def _window(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(TimeWindow.parse(value))
    except ScheduleError as exc:
        raise click.BadParameter(str(exc)) from None


def _schedule(
    _ctx: click.Context, _param: click.Parameter, value: Path | None
) -> WeeklySchedule | None:
    if value is None:
        return None
    try:
        return WeeklySchedule.from_json(value.read_bytes())
    except (OSError, ScheduleError) as exc:
        raise click.BadParameter(f"{value}: {exc}") from None


def settings_options(function: F) -> F:
    """The options of `create` and `edit` (for edit, an option not given changes nothing)."""
    options = [
        click.option("--context", help="Dialplan context answered calls go to."),
        click.option(
            "--extension", help="Extension in that context (a number's own extension wins)."
        ),
        click.option("--callerid", help='CallerID: "Name" <number> or a number.'),
        click.option("--bundle", type=click.IntRange(min=0), help="Calls per bundle (0: none)."),
        click.option("--delay", type=click.FloatRange(min=0), help="Seconds between bundles."),
        click.option("--max-concurrent", type=click.IntRange(min=1), help="Calls alive at once."),
        click.option("--cps", type=click.FloatRange(min=0, min_open=True), help="New calls/s."),
        click.option(
            "--window",
            callback=_window,
            help="Hours calls may start, HH:MM-HH:MM (the service's timezone).",
        ),
        click.option(
            "--schedule",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            callback=_schedule,
            help='Weekly start times, JSON: {"mon": "09:00", …, "sun": "00:00"} (00:00: none).',
        ),
        click.option(
            "--max-attempts",
            type=click.IntRange(1, 20),
            help="Attempts per number and run (default: spool.max_attempts).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _changes(**given: Any) -> dict[str, Any]:
    names = {
        "context": "context",
        "extension": "extension",
        "callerid": "callerid",
        "bundle": "bundle_size",
        "delay": "bundle_delay",
        "max_concurrent": "max_concurrent",
        "cps": "cps",
        "window": "window",
        "schedule": "schedule",
        "max_attempts": "max_attempts",
    }
    return {names[k]: v for k, v in given.items() if v is not None}


def _run(ctx: click.Context, body: Callable[[CampaignManager, Core], Any]) -> Any:
    async def wrapped(core: Core) -> Any:
        try:
            return await body(manager(core), core)
        except CallfileSpoolerError as exc:
            raise click.ClickException(str(exc)) from None

    return with_core(ctx, wrapped)


def describe(info: CampaignInfo, core: Core) -> str:
    s = info.settings
    bundles = f", bundles of {s.bundle_size} every {s.bundle_delay:g} s" if s.bundle_size else ""
    run = f"run {info.run_no}" if info.run_no else "never run"
    fields: list[tuple[str, object]] = [
        ("campaign", f"{info.name} (id {info.id})"),
        ("state", f"{info.state}, {run}"),
        ("started", local_time(core.clock, info.started_at)),
        ("finished", local_time(core.clock, info.finished_at)),
        ("target", f"{s.context},{s.extension},1"),
        ("callerid", s.callerid or _default_callerid(core)),
        ("pacing", f"{s.max_concurrent} line(s), {s.cps:g} call(s)/s{bundles}"),
        ("attempts", s.max_attempts or f"{core.settings.spool.max_attempts} (spool.max_attempts)"),
        ("window", s.window or "any time"),
        ("schedule", s.schedule or "none (start by hand)"),
    ]
    width = max(len(k) for k, _ in fields)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in fields)


def _default_callerid(core: Core) -> str:
    """What a campaign without its own CallerID sends: the value, and where it comes from."""
    default = core.settings.spool.callerid
    return f"{default} (spool.callerid)" if default else "the trunk's (spool.callerid unset)"


def _counts(counts: dict[str, int], order: tuple[str, ...]) -> str:
    known = [f"{k} {counts[k]}" for k in order if counts.get(k)]
    other = [f"{k} {v}" for k, v in sorted(counts.items()) if k not in order and v]
    return ", ".join(known + other) or "-"


def describe_status(status: CampaignStatus, core: Core) -> str:
    done = status.done_numbers
    share = f" ({100 * done // status.numbers}%)" if status.numbers else ""
    numbers = _counts(status.by_number_status, NUMBER_STATES)
    lines = [
        describe(status.info, core),
        f"{'numbers'.ljust(8)}  {status.numbers}: {numbers}",
        f"{'calls'.ljust(8)}  {_counts(status.by_attempt_status, ATTEMPT_STATES)}",
        f"{'progress'.ljust(8)}  {done}/{status.numbers} numbers done{share}",
    ]
    return "\n".join(lines)


@click.group()
def campaign() -> None:
    """Call-out campaigns: numbers, schedule, pacing and outcomes."""


@campaign.command("create")
@click.argument("name")
@settings_options
@click.pass_context
def create(ctx: click.Context, /, name: str, **options: Any) -> None:
    """Create campaign NAME (then `campaign import NAME FILE` its numbers)."""

    async def body(campaigns: CampaignManager, core: Core) -> None:
        info = await campaigns.create(name, CampaignSettings(**_changes(**options)))
        click.echo(describe(info, core))

    _run(ctx, body)


@campaign.command("edit")
@click.argument("name")
@settings_options
@click.option("--no-window", is_flag=True, help="Calls at any time of day.")
@click.option("--no-schedule", is_flag=True, help="No weekly runs (start by hand).")
@click.option("--no-callerid", is_flag=True, help="Back to spool.callerid.")
@click.pass_context
def edit(
    ctx: click.Context,
    /,
    name: str,
    no_window: bool,
    no_schedule: bool,
    no_callerid: bool,
    **options: Any,
) -> None:
    """Change campaign NAME's settings (only the options given)."""
    changes = _changes(**options)
    for flag, key in ((no_window, "window"), (no_schedule, "schedule"), (no_callerid, "callerid")):
        if flag:
            changes[key] = None
    if not changes:
        raise click.UsageError("nothing to change")

    async def body(campaigns: CampaignManager, core: Core) -> None:
        click.echo(describe(await campaigns.edit(name, **changes), core))

    _run(ctx, body)


@campaign.command("list")
@click.option(
    "--callbacks", is_flag=True, help="Also the one-number campaigns behind callback requests."
)
@click.pass_context
def list_(ctx: click.Context, callbacks: bool) -> None:
    """Every campaign, with its state."""

    async def body(campaigns: CampaignManager, core: Core) -> None:
        rows = await campaigns.list_campaigns(with_callbacks=callbacks)
        click.echo(
            table(
                ["name", "state", "run", "lines", "cps", "window", "schedule"],
                [
                    [
                        r.name,
                        r.state,
                        r.run_no,
                        r.settings.max_concurrent,
                        f"{r.settings.cps:g}",
                        r.settings.window or "-",
                        r.settings.schedule or "-",
                    ]
                    for r in rows
                ],
            )
        )

    _run(ctx, body)


@campaign.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_(ctx: click.Context, name: str, file: Path) -> None:
    """Add numbers from FILE: CSV (header `number`, optional `extension`, `VAR_<NAME>`
    columns) or JSON ([{"number": …, "extension": …, "vars": {…}}, …]).

    Bad rows are reported with their line and skipped; good rows land. Exits 1 when any
    row was skipped.
    """

    async def body(campaigns: CampaignManager, _core: Core) -> int:
        with Progress("reading") as progress:
            report = await campaigns.import_file(name, file, progress.update)
        for line, reason in report.skipped:
            echo_err(f"line {line}: {reason}")
        click.echo(report.summary())
        return len(report.skipped)

    if _run(ctx, body):
        ctx.exit(1)


@campaign.command("start")
@click.argument("name")
@click.pass_context
def start(ctx: click.Context, name: str) -> None:
    """Run NAME now, whatever its schedule: resume it if paused, else begin a new run."""

    async def body(campaigns: CampaignManager, _core: Core) -> None:
        click.echo(await campaigns.start(name))

    _run(ctx, body)


@campaign.command("pause")
@click.argument("name")
@click.pass_context
def pause(ctx: click.Context, name: str) -> None:
    """Stop placing NAME's calls (calls under way finish; `start` resumes)."""

    async def body(campaigns: CampaignManager, _core: Core) -> None:
        click.echo(await campaigns.pause(name))

    _run(ctx, body)


@campaign.command("status")
@click.argument("name")
@click.pass_context
def status(ctx: click.Context, name: str) -> None:
    """NAME's settings and the progress of its current run."""

    async def body(campaigns: CampaignManager, core: Core) -> None:
        click.echo(describe_status(await campaigns.status(name), core))

    _run(ctx, body)


@campaign.command("report")
@click.argument("name")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout instead of a table.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CSV to this file (created with mode 0600) instead of stdout.",
)
@click.pass_context
def report(ctx: click.Context, name: str, as_csv: bool, output: Path | None) -> None:
    """One line per number: its status in the current run, attempts and last outcome.

    `reason` is Asterisk's REASON code of the last attempt, `reason_text` says it in words.
    In CSV, an extension a spreadsheet would run as a formula (`+…`) is written `'+…`.
    """

    async def body(campaigns: CampaignManager, core: Core) -> None:
        rows = [report_cells(r, core.clock) for r in await campaigns.report(name)]
        if output is not None:
            with private_text(output) as fh:
                write_csv(fh, rows)
            echo_err(f"{len(rows)} number(s) written to {output}")
        elif as_csv:
            write_csv(sys.stdout, rows)
        else:
            click.echo(table(list(COLUMNS), rows))

    _run(ctx, body)


@campaign.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete NAME, its numbers and its call history (not while calls are under way)."""
    if not yes:
        click.confirm(f"Delete campaign {name} and its history?", abort=True)

    async def body(campaigns: CampaignManager, core: Core) -> None:
        await campaigns.delete(name)
        # Now, not at the service's next start: SQLite gives the next campaign the deleted
        # one's id, and its calls would play this campaign's message.
        await CampaignAudio(core.sessions, core.clock, core.settings.spool).prune()
        click.echo(f"{name}: deleted")

    _run(ctx, body)


@campaign.group("dnc")
def dnc() -> None:
    """The do-not-call list: numbers no campaign calls."""


@dnc.command("add")
@click.argument("number")
@click.option("--note", default="", help="Why (who asked, when).")
@click.pass_context
def dnc_add(ctx: click.Context, number: str, note: str) -> None:
    """Never call NUMBER again (calls already under way finish)."""

    async def body(campaigns: CampaignManager, _core: Core) -> None:
        click.echo(f"{await campaigns.dnc_add(number, note)}: on the do-not-call list")

    _run(ctx, body)


@dnc.command("remove")
@click.argument("number")
@click.pass_context
def dnc_remove(ctx: click.Context, number: str) -> None:
    """Take NUMBER off the do-not-call list."""

    async def body(campaigns: CampaignManager, _core: Core) -> None:
        if not await campaigns.dnc_remove(number):
            raise click.ClickException(f"{number} is not on the do-not-call list")
        click.echo(f"{number}: removed from the do-not-call list")

    _run(ctx, body)


@dnc.command("list")
@click.pass_context
def dnc_list(ctx: click.Context) -> None:
    """The do-not-call list."""

    async def body(campaigns: CampaignManager, core: Core) -> None:
        rows = await campaigns.dnc_list()
        click.echo(
            table(
                ["number", "added", "note"], [[n, local_time(core.clock, a), t] for n, a, t in rows]
            )
        )

    _run(ctx, body)
