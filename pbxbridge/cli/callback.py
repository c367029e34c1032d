"""`pbxbridge callback …`: ask for a callback, and see the requests and their calls.

A request made here is recorded, checked and queued in the database; the running service
(`pbxbridge run`) dials it at its next tick, in `callback.mode`.
"""

from __future__ import annotations

from typing import Any

import click

from callfile_spooler.callbacks import CallbackService, callmeback_of
from callfile_spooler.errors import CallbackError
from pbxbridge.app import Core
from pbxbridge.cli.common import actor, with_core
from pbxbridge.cli.format import LOCAL_MINUTES, local_time, table


def callback_service(core: Core) -> CallbackService:
    return CallbackService(
        core.sessions,
        core.clock,
        core.phones,
        core.settings.callback,
        billing=core.billing,
        callmeback=callmeback_of(core.billing.backend),
    )


@click.group()
def callback() -> None:
    """Callback requests: an operator calls a number back."""


@callback.command("request")
@click.argument("number")
@click.option("--name", help="Who asked (shown to operators in operator_first mode).")
@click.option("--comment", help="What it is about (kept with the request).")
@click.pass_context
def request(ctx: click.Context, number: str, name: str | None, comment: str | None) -> None:
    """Ask for a callback to NUMBER. Exits 1 when the request is refused (hourly limit,
    do-not-call list, one already under way); it is recorded all the same."""

    async def body(core: Core) -> bool:
        try:
            result = await callback_service(core).request(
                number, name=name, comment=comment, source=actor()
            )
        except CallbackError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(result.describe())
        return result.accepted

    if not with_core(ctx, body):
        ctx.exit(1)


@callback.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
def list_(ctx: click.Context, limit: int) -> None:
    """The latest requests, newest first, with what became of their calls."""

    async def body(core: Core) -> None:
        rows: list[list[Any]] = []
        for r in await callback_service(core).list_requests(limit):
            when = local_time(core.clock, r.requested_at, LOCAL_MINUTES)
            who = " ".join(x for x in (r.login or "", r.subscriber_name or r.name or "") if x)
            if r.status == "refused":
                call = f"refused: {r.reason}"
            else:
                outcome = f", last {r.last_outcome}" if r.last_outcome else ""
                call = f"{r.call or '-'} ({r.attempts} call(s){outcome})"
            rows.append([r.id, when, r.number, who or "-", r.source, call, r.ubilling or "-"])
        click.echo(table(["id", "requested", "number", "who", "from", "call", "ubilling"], rows))

    with_core(ctx, body)


@callback.command("cancel")
@click.argument("request_id", metavar="ID", type=click.IntRange(min=1))
@click.pass_context
def cancel(ctx: click.Context, request_id: int) -> None:
    """No further call for request ID (`callback list` shows the ids). A call Asterisk is
    placing at that moment is not stopped. Who cancelled is kept in the request."""

    async def body(core: Core) -> None:
        try:
            info = await callback_service(core).cancel(request_id, actor=actor())
        except CallbackError as exc:
            raise click.ClickException(str(exc)) from None
        if info is None:
            raise click.ClickException(f"no callback #{request_id}")
        click.echo(f"Callback #{info.id} to {info.number}: {info.reason}.")

    with_core(ctx, body)
