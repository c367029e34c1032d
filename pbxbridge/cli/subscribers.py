"""`pbxbridge subscribers …` and `pbxbridge payments …`: the embedded billing, day to day."""

from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import click

from billing_client.errors import AdminError, MoneyError
from billing_client.local.admin import over_payment_limit
from billing_client.money import parse_amount
from billing_client.outcomes import BillingResult
from billing_client.subscriber import STATUS_WORDS, Status
from pbxbridge.app import Core
from pbxbridge.cli.common import DATE, actor, local_admin, with_core
from pbxbridge.cli.files import private_text
from pbxbridge.cli.format import echo_err, status_word, subscriber_details, table
from pbxbridge.cli.progress import Progress


class AmountType(click.ParamType):  # type: ignore[type-arg]
    name = "amount"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            return parse_amount(str(value))
        except MoneyError as exc:
            self.fail(str(exc), param, ctx)


AMOUNT = AmountType()


def _date(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _admin_errors(exc: AdminError) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group()
def subscribers() -> None:
    """Subscribers of the embedded billing (show works with every backend)."""


@subscribers.command("show")
@click.argument("number_or_login")
@click.pass_context
def show(ctx: click.Context, number_or_login: str) -> None:
    """Show one subscriber, found by phone number or login."""

    async def body(core: Core) -> None:
        lookup = await core.billing.find(number_or_login)
        if lookup.result == BillingResult.ERROR:
            raise click.ClickException(f"billing error: {lookup.error}")
        if lookup.subscriber is None:
            raise click.ClickException(f"no subscriber {number_or_login!r}")
        click.echo(subscriber_details(lookup.subscriber))

    with_core(ctx, body)


LIST_STATUSES = ("active", "debtor", "frozen", "disabled")


@subscribers.command("list")
@click.option(
    "--status",
    type=click.Choice(LIST_STATUSES),
    help="Only subscribers with this status (frozen and disabled are both status 3).",
)
@click.pass_context
def list_(ctx: click.Context, status: str | None) -> None:
    """List subscribers of the embedded billing."""
    code = Status.FROZEN if status == "disabled" else None
    wanted = code or next((s for s, w in STATUS_WORDS.items() if w == status), None)

    async def body(core: Core) -> None:
        found = await local_admin(core).list(status=wanted)
        rows = [r for r in found if status is None or status in status_word(r).split(", ")]
        click.echo(
            table(
                ["login", "name", "status", "balance", "credit", "tariff", "days", "phones"],
                [
                    [
                        r.login,
                        r.name,
                        status_word(r),
                        r.balance,
                        r.credit,
                        r.tariff,
                        "-" if r.days_left is None else r.days_left,
                        " ".join(r.phones),
                    ]
                    for r in rows
                ],
            )
        )
        click.echo(f"{len(rows)} subscriber(s)", err=True)

    with_core(ctx, body)


@subscribers.command("add")
@click.argument("login")
@click.option("--name", default="", help="Full name (Cyrillic welcome).")
@click.option("--phone", "phones", multiple=True, help="A phone number; repeat for several.")
@click.option("--balance", type=AMOUNT, default="0", show_default=True)
@click.option("--credit", type=AMOUNT, default="0", show_default=True)
@click.option("--credit-expire", type=DATE, help="Last day of the credit (YYYY-MM-DD).")
@click.option("--tariff", default="")
@click.option("--fee", type=AMOUNT, default="0", show_default=True, help="Monthly fee.")
@click.option("--frozen", is_flag=True)
@click.option("--disabled", is_flag=True)
@click.option("--pin", help="IVR PIN (4-8 digits), stored hashed.")
@click.pass_context
def add(
    ctx: click.Context,
    login: str,
    name: str,
    phones: tuple[str, ...],
    balance: Decimal,
    credit: Decimal,
    credit_expire: datetime | None,
    tariff: str,
    fee: Decimal,
    frozen: bool,
    disabled: bool,
    pin: str | None,
) -> None:
    """Add a subscriber."""

    async def body(core: Core) -> None:
        try:
            info = await local_admin(core).add(
                login,
                name=name,
                phones=phones,
                balance=balance,
                credit=credit,
                credit_expire=_date(credit_expire),
                tariff=tariff,
                fee=fee,
                frozen=frozen,
                disabled=disabled,
                pin=pin,
                actor=actor(),
            )
        except AdminError as exc:
            raise _admin_errors(exc) from None
        click.echo(subscriber_details(info))

    with_core(ctx, body)


@subscribers.command("edit")
@click.argument("login")
@click.option("--name")
@click.option("--phone", "phones", multiple=True, help="Replaces all phones; repeat for several.")
@click.option("--no-phones", is_flag=True, help="Remove every phone.")
@click.option("--tariff")
@click.option("--fee", type=AMOUNT)
@click.option("--credit", type=AMOUNT)
@click.option("--credit-expire", type=DATE)
@click.option("--clear-credit", is_flag=True)
@click.option("--pin", help="New IVR PIN (4-8 digits).")
@click.option("--clear-pin", is_flag=True)
@click.pass_context
def edit(
    ctx: click.Context,
    login: str,
    name: str | None,
    phones: tuple[str, ...],
    no_phones: bool,
    tariff: str | None,
    fee: Decimal | None,
    credit: Decimal | None,
    credit_expire: datetime | None,
    clear_credit: bool,
    pin: str | None,
    clear_pin: bool,
) -> None:
    """Change a subscriber's profile (the balance changes only through payments)."""

    async def body(core: Core) -> None:
        try:
            info = await local_admin(core).edit(
                login,
                name=name,
                phones=() if no_phones else (phones or None),
                tariff=tariff,
                fee=fee,
                credit=credit,
                credit_expire=_date(credit_expire),
                clear_credit=clear_credit,
                pin=pin,
                clear_pin=clear_pin,
                actor=actor(),
            )
        except AdminError as exc:
            raise _admin_errors(exc) from None
        click.echo(subscriber_details(info))

    with_core(ctx, body)


def _flag_command(name: str, help_text: str, attr: str, value: bool) -> None:
    @subscribers.command(name, help=help_text)
    @click.argument("login")
    @click.pass_context
    def command(ctx: click.Context, login: str) -> None:
        async def body(core: Core) -> None:
            admin = local_admin(core)
            setter = admin.set_frozen if attr == "frozen" else admin.set_disabled
            try:
                await setter(login, value, actor=actor())
            except AdminError as exc:
                raise _admin_errors(exc) from None
            click.echo(f"{login}: {name} done")

        with_core(ctx, body)


_flag_command("freeze", "Freeze a subscriber (status 3).", "frozen", True)
_flag_command("unfreeze", "Unfreeze a subscriber.", "frozen", False)
_flag_command("disable", "Disable a subscriber (status 3).", "disabled", True)
_flag_command("enable", "Enable a disabled subscriber.", "disabled", False)


@subscribers.command("delete")
@click.argument("login")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
def delete(ctx: click.Context, login: str, yes: bool) -> None:
    """Delete a subscriber and its phones (the audit journal keeps its history)."""
    if not yes:
        click.confirm(f"Delete subscriber {login}?", abort=True)

    async def body(core: Core) -> None:
        try:
            await local_admin(core).delete(login, actor=actor())
        except AdminError as exc:
            raise _admin_errors(exc) from None
        click.echo(f"{login}: deleted")

    with_core(ctx, body)


@subscribers.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.pass_context
def export(ctx: click.Context, file: Path | None) -> None:
    """Write every subscriber as CSV (the import format) to FILE (created with mode 0600)
    or stdout. Text cells a spreadsheet would run as a formula (starting with = + - @)
    get a leading ', which `subscribers import` takes off again."""

    async def body(core: Core) -> None:
        admin = local_admin(core)
        if file is None:
            count = await admin.export_csv(sys.stdout)
        else:
            with private_text(file) as out:
                count = await admin.export_csv(out)
        echo_err(f"{count} subscriber(s) exported")

    with_core(ctx, body)


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--update-balances",
    is_flag=True,
    help="Also set balance and credit of existing logins (each change is audited).",
)
@click.pass_context
def import_(ctx: click.Context, file: Path, update_balances: bool) -> None:
    """Import subscribers from CSV.

    Header: login,name,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled.

    Bad rows are reported with their line number and skipped; good rows land. Exits 1
    when any row was skipped.
    """
    from billing_client.local.importer import SubscriberImporter

    total = _count_rows(file)

    async def body(core: Core) -> int:
        local_admin(core)
        importer = SubscriberImporter(core.sessions, core.clock, core.audit, core.phones)
        with (
            file.open(encoding="utf-8-sig", newline="") as source,
            Progress("importing") as progress,
        ):
            try:
                report = await importer.run(
                    source,
                    update_balances=update_balances,
                    actor=actor(),
                    progress=lambda rows: progress.update(rows, total),
                )
            except AdminError as exc:
                raise _admin_errors(exc) from None
        for line, reason in report.skipped:
            echo_err(f"line {line}: {reason}")
        click.echo(
            f"created {report.created}, updated {report.updated}, "
            f"unchanged {report.unchanged}, skipped {len(report.skipped)}"
        )
        return len(report.skipped)

    skipped = with_core(ctx, body)
    if skipped:
        ctx.exit(1)


def _count_rows(file: Path) -> int:
    with file.open("rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)


@click.group()
def payments() -> None:
    """Payments into the embedded billing."""


@payments.command("add")
@click.argument("login")
@click.argument("amount", type=AMOUNT)
@click.option("--note", default="", help="Why (shown in the audit journal).")
@click.option("--force", is_flag=True, help="Take an amount above billing.max_payment.")
@click.pass_context
def payment_add(ctx: click.Context, login: str, amount: Decimal, note: str, force: bool) -> None:
    """Add AMOUNT to LOGIN's balance (negative to correct a mistake). An amount above
    billing.max_payment (either sign) needs --force."""

    async def body(core: Core) -> None:
        limit = core.settings.billing.max_payment
        if over_payment_limit(amount, limit) and not force:
            raise click.ClickException(
                f"{amount} is more than billing.max_payment ({limit}); nothing was booked. "
                "If the amount is right, repeat with --force"
            )
        try:
            balance = await local_admin(core).add_payment(login, amount, note=note, actor=actor())
        except AdminError as exc:
            raise _admin_errors(exc) from None
        click.echo(f"{login}: {amount:+} → balance {balance}")

    with_core(ctx, body)
