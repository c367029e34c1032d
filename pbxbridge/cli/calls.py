"""`pbxbridge calls list`: the call log recorded by the running service, one call a line."""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath

import click
from sqlalchemy.exc import DBAPIError

from call_log import Call, CallLogStore
from pbxbridge.app import Core
from pbxbridge.cli.common import DATE, with_core
from pbxbridge.cli.format import echo_err, local_time, table
from pbxbridge.cli.missed import duration, subscriber
from primitives.clock import Clock

ARROWS = {"incoming": "in", "outgoing": "out", "internal": "int"}


def result(call: Call) -> str:
    """ANSWERED, NO ANSWER…, and for a missed call whether it was called back."""
    if not call.missed:
        return call.disposition
    return f"{call.disposition} (missed, recalled)" if call.recalled_at else "NO ANSWER (missed)"


def rows(calls: list[Call], clock: Clock) -> list[list[object]]:
    return [
        [
            local_time(clock, call.started_at, "%H:%M:%S"),
            ARROWS.get(call.direction, call.direction),
            call.caller or "-",
            call.callee or "-",
            result(call),
            duration(call.billsec) if call.answered else "-",
            subscriber(call),
            call.answered_by or "-",
            PurePosixPath(call.recording).name if call.recording else "-",
        ]
        for call in calls
    ]


@click.group()
def calls() -> None:
    """The call log: every call the service recorded from AMI Cdr events."""


@calls.command("list")
@click.option("--date", "day", type=DATE, help="This day (YYYY-MM-DD); default today.")
@click.option("--number", help="Only calls with this number (any written form, or an extension).")
@click.pass_context
def list_(ctx: click.Context, day: datetime | None, number: str | None) -> None:
    """List one day's calls, oldest first: time, direction, caller, callee, result, talk
    time, subscriber, who answered, recording."""

    async def body(core: Core) -> None:
        wanted = day.date() if day is not None else core.clock.today()
        numbers: list[str] = []
        if number is not None and number.strip():
            numbers.append(number.strip())
            normalised = core.billing.phones.normalise(number)
            if normalised is not None:
                numbers.append(normalised)
        try:
            found = await CallLogStore(core.sessions, core.clock).days(
                wanted, wanted, numbers=numbers
            )
        except DBAPIError as exc:
            raise click.ClickException(
                f"cannot read the call log ({type(exc.orig).__name__}); "
                "has `pbxbridge db upgrade` been run?"
            ) from None
        click.echo(
            table(
                [
                    "time",
                    "dir",
                    "caller",
                    "callee",
                    "result",
                    "talk",
                    "subscriber",
                    "answered by",
                    "recording",
                ],
                rows(found, core.clock),
            )
        )
        answered = sum(1 for c in found if c.answered)
        missed = sum(1 for c in found if c.missed)
        echo_err(
            f"{len(found)} call(s) on {wanted.isoformat()}: {answered} answered, {missed} missed"
        )

    with_core(ctx, body)
