"""`pbxbridge run`, `pbxbridge check` and `pbxbridge audit`."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

import click
import uvloop

from billing_client.clock import Clock
from billing_client.errors import BillingError
from callfile_spooler.writer import SpoolError, SpoolFolder
from pbxbridge import migrations
from pbxbridge.app import Core, Service, open_core
from pbxbridge.cli.common import state, with_core
from pbxbridge.cli.format import table
from pbxbridge.demo import seed_demo
from pbxbridge.settings import Settings

log = logging.getLogger("pbxbridge")


async def serve(settings: Settings, *, demo: bool, clock: Clock | None = None) -> None:
    """Run until SIGTERM/SIGINT; then stop taking work and finish what is in flight."""
    async with open_core(settings, clock=clock) as core:
        await migrations.upgrade(core.engine)
        if demo:
            if settings.billing.backend != "local":
                raise click.ClickException(
                    "--demo seeds the embedded billing only (billing.backend = local)"
                )
            printed = await seed_demo(core)
            if printed:
                click.echo(printed)
        service = Service(core)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
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
    help="Seed demo subscribers and paycards into an empty embedded billing and print them.",
)
@click.pass_context
def run_command(ctx: click.Context, demo: bool) -> None:
    """Start the service (FastAGI server and the rest) on the configured billing."""
    cli_state = state(ctx)
    settings = cli_state.settings()
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(settings, demo=demo, clock=cli_state.clock))
    except (click.ClickException, KeyboardInterrupt):
        raise
    except OSError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None


async def run_checks(core: Core) -> list[tuple[str, bool, str]]:
    """(what, ok, one-line detail) for database, migrations, spool folder and billing."""
    results: list[tuple[str, bool, str]] = []
    try:
        pending = await migrations.pending(core.engine)
    except Exception as exc:
        results.append(
            ("database", False, f"{core.settings.database.safe_url()}: {type(exc).__name__}: {exc}")
        )
        results.append(("migrations", False, "not checked: database unreachable"))
    else:
        results.append(("database", True, core.settings.database.safe_url()))
        if pending:
            results.append(
                ("migrations", False, f"pending {', '.join(pending)}: run `pbxbridge db upgrade`")
            )
        else:
            results.append(("migrations", True, "up to date"))
    spool = SpoolFolder(core.settings.spool)
    try:
        await asyncio.to_thread(spool.prepare)
    except SpoolError as exc:
        results.append(("spool", False, str(exc)))
    else:
        results.append(("spool", True, str(core.settings.spool.dir)))
    try:
        await asyncio.wait_for(core.billing.check(), timeout=10)
    except (BillingError, TimeoutError) as exc:
        results.append(
            ("billing", False, f"{core.settings.billing.backend}: {exc or 'no answer in 10 s'}")
        )
    else:
        results.append(("billing", True, core.settings.billing.backend))
    return results


@click.command("check")
@click.pass_context
def check_command(ctx: click.Context) -> None:
    """Verify config, database, migrations, spool folder and billing; a line each."""
    cli = state(ctx)
    cli.settings()
    click.echo(f"config      OK    {cli.config_file or 'defaults + environment'}")
    results = with_core(ctx, run_checks)
    for what, ok, detail in results:
        click.echo(f"{what:<11} {'OK  ' if ok else 'FAIL'}  {detail}")
    if not all(ok for _, ok, _ in results):
        ctx.exit(1)


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
                        r.at.strftime("%Y-%m-%d %H:%M:%S"),
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
