"""`pbxbridge missed …`: missed calls recorded by the running service, and their statistics."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from sqlalchemy.exc import DBAPIError

from billing_client.subscriber import STATUS_WORDS
from call_log import Call
from missed_calls import MissedCall, MissedCallTracker
from pbxbridge.app import Core
from pbxbridge.cli.common import DATE, with_core
from pbxbridge.cli.format import LOCAL_SECONDS, echo_err, local_time, table
from primitives.clock import Clock


def _tracker(core: Core) -> MissedCallTracker:
    return MissedCallTracker(core.sessions, core.clock, core.billing, core.settings.missed_calls)


def _no_tables(exc: DBAPIError) -> click.ClickException:
    return click.ClickException(
        f"cannot read missed calls ({type(exc.orig).__name__}); "
        "has `pbxbridge db upgrade` been run?"
    )


def duration(seconds: float | None) -> str:
    """`45s`, `3m 05s`, `2h 07m`, `1d 3h`."""
    if seconds is None:
        return "-"
    total = max(round(seconds), 0)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def subscriber(call: MissedCall | Call) -> str:
    """The subscriber of the call's number, or why there is none (`missed` and `calls`)."""
    if call.login:
        status = STATUS_WORDS.get(call.status, "unknown") if call.status is not None else "?"
        return f"{call.login} {call.name or ''} ({status})".replace("  ", " ")
    return {
        "pending": "? (billing not asked yet)",
        "skipped": "-",
        "notfound": "-",
    }.get(call.lookup, "-")


def rows(calls: list[MissedCall], clock: Clock, *, with_date: bool) -> list[list[object]]:
    shape = LOCAL_SECONDS if with_date else "%H:%M:%S"

    def when(instant: datetime) -> str:
        return local_time(clock, instant, shape)

    out: list[list[object]] = []
    for call in calls:
        recalled = "-"
        if call.recalled_at is not None:
            recalled = f"{when(call.recalled_at)} (+{duration(call.seconds_to_recall)})"
        out.append(
            [
                when(call.at),
                call.number if call.number_valid else f"{call.raw_number} (unparsed)",
                subscriber(call),
                call.queue or "-",
                duration(call.waited_seconds),
                recalled,
            ]
        )
    return out


@click.group()
def missed() -> None:
    """Missed inbound calls, as the service records them from AMI events."""


@missed.command("list")
@click.option("--today", is_flag=True, help="Only today.")
@click.option("--day", type=DATE, help="Only this day (YYYY-MM-DD).")
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=7,
    show_default=True,
    help="The last N days, today included (without --today or --day).",
)
@click.option("--open", "only_open", is_flag=True, help="Only calls nobody has recalled yet.")
@click.pass_context
def list_(
    ctx: click.Context, today: bool, day: datetime | None, days: int, only_open: bool
) -> None:
    """List missed calls: time, number, subscriber, queue, wait, recall."""
    if today and day is not None:
        raise click.UsageError("--today and --day exclude each other")

    async def body(core: Core) -> None:
        if day is not None:
            wanted = [day.date()]
        elif today:
            wanted = [core.clock.today()]
        else:
            last = core.clock.today()
            wanted = [last - timedelta(days=n) for n in range(days - 1, -1, -1)]
        tracker = _tracker(core)
        try:
            calls: list[MissedCall] = []
            for one in wanted:
                calls += await tracker.list(one, only_open=only_open)
        except DBAPIError as exc:
            raise _no_tables(exc) from None
        finally:
            await tracker.aclose()
        click.echo(
            table(
                ["time", "number", "subscriber", "queue", "waited", "recalled"],
                rows(calls, core.clock, with_date=len(wanted) > 1),
            )
        )
        recalled = sum(1 for c in calls if c.recalled)
        echo_err(f"{len(calls)} missed call(s), {recalled} recalled ({_span(wanted)})")

    with_core(ctx, body)


def _span(days: list[date]) -> str:
    if len(days) == 1:
        return days[0].isoformat()
    return f"{days[0].isoformat()} .. {days[-1].isoformat()}"


@missed.command("stats")
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=7,
    show_default=True,
    help="The last N days, today included.",
)
@click.pass_context
def stats(ctx: click.Context, days: int) -> None:
    """Per day: missed, recalled, still open, unsuccessful recall attempts, average time to
    recall (as Ubilling's WhyDoYouCall keeps them)."""

    async def body(core: Core) -> None:
        tracker = _tracker(core)
        try:
            per_day = await tracker.stats(days)
        except DBAPIError as exc:
            raise _no_tables(exc) from None
        finally:
            await tracker.aclose()
        click.echo(
            table(
                ["day", "missed", "numbers", "recalled", "open", "failed attempts", "avg recall"],
                [
                    [
                        s.day.isoformat(),
                        s.missed,
                        s.missed_numbers,
                        s.recalled,
                        s.open,
                        s.unsuccessful_attempts,
                        duration(s.average_recall_seconds),
                    ]
                    for s in per_day
                ],
            )
        )
        missed_total = sum(s.missed for s in per_day)
        recalled_total = sum(s.recalled for s in per_day)
        echo_err(f"{missed_total} missed, {recalled_total} recalled in {days} day(s)")

    with_core(ctx, body)
