"""`pbxbridge webhooks list|test NAME`: the configured webhooks and what became of their
deliveries; a signed `test` event sent now, with the receiver's answer."""

from __future__ import annotations

import click

from pbxbridge.app import Core, build_webhooks
from pbxbridge.cli.common import with_core
from pbxbridge.cli.format import LOCAL_MINUTES, echo_err, local_time, one_line
from webhooks.errors import UnknownWebhook
from webhooks.service import TestResult
from webhooks.store import Summary


def _last(summary: Summary, core: Core) -> str:
    if summary.last_delivered_at is None:
        said = "last delivered: never"
    else:
        said = f"last delivered: {local_time(core.clock, summary.last_delivered_at, LOCAL_MINUTES)}"
    if summary.last_error:
        said += f"; last error: {one_line(summary.last_error, 100)}"
    return said


@click.group()
def webhooks() -> None:
    """Webhooks ([[webhooks]] in the config): list them, send a test event."""


@webhooks.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """One webhook a line: name, URL (no credentials), events, pending and given-up
    deliveries, the last delivery."""

    async def body(core: Core) -> None:
        hooks = build_webhooks(core)
        if not hooks.hooks:
            echo_err("no [[webhooks]] in the configuration")
            return
        summaries = await hooks.summaries()
        for name, hook in hooks.hooks.items():
            summary = summaries.get(name, Summary())
            click.echo(
                f"{name}  {hook.shown_url}  events={','.join(hook.events)}  "
                f"pending={summary.pending}  failed={summary.given_up}  {_last(summary, core)}"
            )
        gone = sorted(set(summaries) - set(hooks.hooks))
        for name in gone:
            pending = summaries[name].pending
            if pending:
                echo_err(
                    f"{name}: {pending} delivery(ies) pending for a webhook no longer configured"
                )

    with_core(ctx, body)


@webhooks.command("test")
@click.argument("name")
@click.pass_context
def test(ctx: click.Context, name: str) -> None:
    """Send a signed `test` event to webhook NAME now; print what the receiver answered
    (exit 1 unless it is a 2xx)."""

    async def body(core: Core) -> TestResult:
        try:
            return await build_webhooks(core).send_test(name)
        except UnknownWebhook as exc:
            raise click.ClickException(str(exc)) from None

    result = with_core(ctx, body)
    answer = result.answer
    click.echo(f"{name}: {answer.said} in {answer.seconds:.2f} s (delivery {result.delivery_id})")
    if answer.status is None or not 200 <= answer.status < 300:
        ctx.exit(1)
