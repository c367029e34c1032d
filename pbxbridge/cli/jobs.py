"""`pbxbridge jobs list|run|history`: the scheduled jobs from the shell.

`run` goes through the scheduler's own path (jobs.runner): the run is claimed in the
database, bounded by the job's timeout, retried by its policy and recorded, so it never
runs alongside the same job in a running service or another instance (it is then recorded
as skipped and the command exits 1).
"""

from __future__ import annotations

import click

from jobs.job import Job
from jobs.models import OK, SKIPPED
from jobs.runner import RunReport
from jobs.store import RunRow, RunStore
from pbxbridge.app import Core
from pbxbridge.cli.common import actor, with_core
from pbxbridge.cli.format import LOCAL_MINUTES, LOCAL_SECONDS, echo_err, local_time, one_line, table
from pbxbridge.cli.sms import queue_only_outbox
from pbxbridge.job_table import build_jobs, build_runner, instance_name
from primitives.clock import Clock


def _table(core: Core) -> list[Job]:
    return build_jobs(core, queue_only_outbox(core))


def _store(core: Core) -> RunStore:
    return RunStore(core.sessions, core.clock, instance_name(core.settings))


def _took(run: RunRow) -> str:
    seconds = run.seconds
    if seconds is None:
        return "running"
    return f"{seconds:.1f}s" if seconds < 60 else f"{seconds / 60:.1f}m"


def _what(run: RunRow, width: int) -> str:
    return one_line(run.error or run.output or "-", width)


def _last(run: RunRow | None, clock: Clock) -> str:
    if run is None:
        return "never run"
    said = f"{run.result} {local_time(clock, run.started_at, LOCAL_MINUTES)}"
    if run.result not in (OK, "running"):
        said += f": {_what(run, 60)}"
    return said


@click.group()
def jobs() -> None:
    """Scheduled jobs: list them, run one now, read what they did."""


@jobs.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """One job a line: name, schedule, next run (local time), last result."""

    async def body(core: Core) -> None:
        found = _table(core)
        latest = await _store(core).latest([j.name for j in found])
        now = core.clock.now()
        rows = []
        for job in found:
            if job.enabled:
                next_run = local_time(core.clock, job.schedule.next_after(now), LOCAL_MINUTES)
            else:
                next_run = f"off: {job.off_because}"
            rows.append(
                [
                    job.name,
                    job.schedule.expression,
                    next_run,
                    _last(latest.get(job.name), core.clock),
                ]
            )
        click.echo(table(["job", "schedule", "next run", "last result"], rows))
        if not core.settings.scheduler.enabled:
            echo_err("scheduler.enabled = false: this instance's service runs no job")

    with_core(ctx, body)


@jobs.command("run")
@click.argument("name")
@click.pass_context
def run(ctx: click.Context, name: str) -> None:
    """Run job NAME now, once, recorded in the history like a scheduled run."""

    async def body(core: Core) -> RunReport | None:
        found = {j.name: j for j in _table(core)}
        job = found.get(name)
        if job is None:
            raise click.ClickException(f"no job {name!r}; jobs: {', '.join(found)}")
        if not job.enabled:
            echo_err(f"{name} is off in the schedule ({job.off_because}); running it once anyway")
        runner = build_runner(core, instance_name(core.settings, cli=actor()))
        return await runner.run(job, core.clock.now(), manual=True)

    report = with_core(ctx, body)
    if report is None:
        raise click.ClickException(f"another run of {name} was claimed for this very instant")
    text = report.error if report.error else report.output
    click.echo(f"{name}: {report.result} ({report.attempts} attempt(s)): {text or '-'}")
    if report.result not in (OK, SKIPPED) or report.attempts == 0:
        ctx.exit(1)


@jobs.command("history")
@click.argument("name", required=False)
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Runs shown."
)
@click.pass_context
def history(ctx: click.Context, name: str | None, limit: int) -> None:
    """Runs, newest first (of job NAME, or of every job): when, how long, the result, what
    the job said or the error."""

    async def body(core: Core) -> None:
        runs = await _store(core).history(name, limit=limit)
        rows = [
            [
                local_time(core.clock, r.started_at, LOCAL_SECONDS),
                r.job,
                "manual" if r.manual else "scheduled",
                r.result,
                _took(r),
                r.instance,
                _what(r, 120),
            ]
            for r in runs
        ]
        click.echo(table(["started", "job", "run", "result", "took", "instance", "said"], rows))
        if not runs:
            echo_err(f"no runs of {name} recorded" if name else "no runs recorded")

    with_core(ctx, body)
