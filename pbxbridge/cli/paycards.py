"""`pbxbridge paycards …`: pay cards of the embedded billing."""

from __future__ import annotations

import asyncio
import csv
import sys
from decimal import Decimal
from pathlib import Path

import click

from billing_client.errors import AdminError
from pbxbridge.app import Core
from pbxbridge.cli.common import paycard_admin, with_core
from pbxbridge.cli.files import private_text
from pbxbridge.cli.format import LOCAL_MINUTES, echo_err, local_time, table
from pbxbridge.cli.subscribers import AMOUNT


def write_cards(path: Path, numbers: list[str], amount: Decimal) -> None:
    """Card numbers are money: the file is created readable by its owner only."""
    with private_text(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(["number", "amount"])
        writer.writerows([n, amount] for n in numbers)


@click.group()
def paycards() -> None:
    """Pay cards: generate, import, deactivate, list."""


@paycards.command("generate")
@click.option("--count", type=click.IntRange(1, 100_000), required=True)
@click.option("--amount", type=AMOUNT, required=True)
@click.option("--digits", type=click.IntRange(12, 32), default=16, show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write number,amount CSV here instead of printing (created with mode 0600).",
)
@click.pass_context
def generate(
    ctx: click.Context, count: int, amount: Decimal, digits: int, output: Path | None
) -> None:
    """Create COUNT unguessable cards worth AMOUNT each."""
    if amount <= 0:
        raise click.BadParameter("must be positive", param_hint="--amount")

    async def body(core: Core) -> None:
        numbers = await paycard_admin(core).generate(count, amount, digits=digits)
        if output is None:
            for number in numbers:
                click.echo(number)
        else:
            await asyncio.to_thread(write_cards, output, numbers, amount)
            echo_err(f"{len(numbers)} card(s) written to {output}")

    with_core(ctx, body)


@paycards.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_(ctx: click.Context, file: Path) -> None:
    """Import cards from CSV with header number,amount (bad rows reported and skipped)."""

    async def body(core: Core) -> int:
        admin = paycard_admin(core)
        with file.open(encoding="utf-8-sig", newline="") as source:
            try:
                report = await admin.import_csv(source)
            except AdminError as exc:
                raise click.ClickException(str(exc)) from None
        for line, reason in report.skipped:
            echo_err(f"line {line}: {reason}")
        click.echo(f"imported {report.created}, skipped {len(report.skipped)}")
        return len(report.skipped)

    if with_core(ctx, body):
        ctx.exit(1)


@paycards.command("deactivate")
@click.argument("number")
@click.pass_context
def deactivate(ctx: click.Context, number: str) -> None:
    """Make a card unusable."""

    async def body(core: Core) -> None:
        if not await paycard_admin(core).deactivate(number):
            raise click.ClickException(f"no such card {number!r}")
        click.echo("deactivated")

    with_core(ctx, body)


@paycards.command("list")
@click.option("--used/--unused", default=None, help="Only used (or only unused) cards.")
@click.pass_context
def list_(ctx: click.Context, used: bool | None) -> None:
    """List cards."""

    async def body(core: Core) -> None:
        cards = await paycard_admin(core).list(used=used)
        click.echo(
            table(
                ["number", "amount", "active", "used at", "used by"],
                [
                    [
                        c.number,
                        c.amount,
                        "yes" if c.active else "no",
                        local_time(core.clock, c.used_at, LOCAL_MINUTES) if c.used_at else "",
                        c.used_by or "",
                    ]
                    for c in cards
                ],
            )
        )
        print(f"{len(cards)} card(s)", file=sys.stderr)

    with_core(ctx, body)
