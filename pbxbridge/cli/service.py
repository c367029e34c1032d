"""`pbxbridge run` and `pbxbridge audit` (`check` is in pbxbridge.cli.check)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

import click
import uvloop

from pbxbridge import migrations
from pbxbridge.app import Core, Service, open_core
from pbxbridge.cli.common import state, with_core
from pbxbridge.cli.format import local_time, table
from pbxbridge.demo import seed_demo
from pbxbridge.limits import raise_open_files_limit
from pbxbridge.logs import configure_logging
from pbxbridge.settings import Settings
from primitives.clock import Clock

log = logging.getLogger("pbxbridge")


async def serve(settings: Settings, *, demo: bool, clock: Clock | None = None) -> None:
    """Run until SIGTERM/SIGINT; then stop taking work and finish what is in flight."""
    async with open_core(settings, clock=clock) as core:
        await migrations.upgrade(core.engine)
        if demo:
            click.echo(await seed_demo(core))
        service = Service(core)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        raise_open_files_limit()
        await service.start()
        # What start-up built lives as long as the process: keep it out of every garbage
        # collection pass, and let the young generation grow before a pass (each call
        # allocates a few thousand short-lived objects).
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        try:
            await stop.wait()
            log.info("stopping: no new work; finishing what is in flight")
        finally:
            await service.stop()


@click.command("run")
@click.option(
    "--demo",
    is_flag=True,
    help=(
        "Seed demo subscribers and paycards into an empty embedded billing and print them "
        "(any other billing: a line saying nothing was seeded)."
    ),
)
@click.pass_context
def run_command(ctx: click.Context, demo: bool) -> None:
    """Start the service (FastAGI server and the rest) on the configured billing."""
    cli_state = state(ctx)
    settings = cli_state.settings()
    # The service's lines are written in batches (logging.flush_interval); a command's
    # stay line by line, next to what it prints.
    configure_logging(settings.logging, settings.secrets(), settings.timezone, batched=True)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(settings, demo=demo, clock=cli_state.clock))
    except (click.ClickException, KeyboardInterrupt):
        raise
    except OSError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None


@click.command("audit")
@click.option("--login", help="Only this subscriber.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.pass_context
def audit_command(ctx: click.Context, login: str | None, limit: int) -> None:
    """Show the journal of money movements, newest first."""

    async def body(core: Core) -> None:
        records = await core.audit.records(login=login, limit=limit)
        click.echo(
            table(
                [
                    "time",
                    "login",
                    "kind",
                    "field",
                    "amount",
                    "before",
                    "after",
                    "outcome",
                    "source",
                    "detail",
                ],
                [
                    [
                        local_time(core.clock, r.at),
                        r.login,
                        r.kind,
                        r.field,
                        r.amount,
                        r.before,
                        r.after,
                        r.outcome,
                        r.source,
                        r.detail,
                    ]
                    for r in records
                ],
            )
        )

    with_core(ctx, body)
