"""`pbxbridge lockouts …`: who is locked out of IVR self-service, and lifting a lock."""

from __future__ import annotations

import click

from billing_client.outcomes import MoneySource
from pbxbridge.app import Core, build_lockout
from pbxbridge.cli.common import actor, with_core
from pbxbridge.cli.format import local_time, table
from pbxbridge.lockouts import lift


@click.group()
def lockouts() -> None:
    """Numbers and logins locked after wrong pay cards or PINs: list, clear."""


@lockouts.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Locks in force and failures still counted, times in the service's timezone."""

    async def body(core: Core) -> None:
        agi = core.settings.agi
        entries = await build_lockout(core).entries()
        rules = (
            f"{agi.lockout_failures} failures within {agi.lockout_window:g} s lock a number "
            f"and its login for {agi.lockout_window:g} s"
        )
        if not entries:
            click.echo(f"Nothing is locked and no failures are counted ({rules}).")
            return
        click.echo(
            table(
                ["number or login", "failures", "locked until", "last failure"],
                [
                    [
                        f"{e.kind} {e.value}",
                        e.failures,
                        local_time(core.clock, e.locked_until) if e.locked_until else "not locked",
                        local_time(core.clock, e.last_failure),
                    ]
                    for e in entries
                ],
            )
        )
        locked = sum(1 for e in entries if e.locked_until)
        click.echo(f"{locked} locked; {rules}.")

    with_core(ctx, body)


@lockouts.command("clear")
@click.argument("target", metavar="NUMBER|LOGIN")
@click.pass_context
def clear(ctx: click.Context, target: str) -> None:
    """Lift the lock of a number or login (and of the login or number locked with it) and
    forget their failures. Recorded in the audit journal."""

    async def body(core: Core) -> None:
        try:
            cleared = await lift(
                build_lockout(core), core.phones, target, MoneySource(kind="cli", user=actor())
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="NUMBER|LOGIN") from None
        if not cleared.subjects:
            raise click.ClickException(f"{target}: not locked and no failures counted")
        click.echo(f"Unlocked {cleared.describe()}.")

    with_core(ctx, body)
