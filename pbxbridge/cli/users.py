"""`pbxbridge users …`: staff accounts of the admin pages (/admin/)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import click

from pbxbridge.app import Core
from pbxbridge.cli.common import actor, with_core
from pbxbridge.cli.format import local_time, table
from web.errors import StaffError
from web.staff import Role, StaffStore, check_password

ROLES = [r.value for r in Role]


def staff_store(core: Core) -> StaffStore:
    return StaffStore(core.sessions, core.clock, core.audit)


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of standard input (`--password-stdin`), else asked
    twice without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return check_password(password)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from None


PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of asking.",
)


@click.group()
def users() -> None:
    """Staff accounts of the admin pages: add, passwd, disable, enable, list."""


def _change(
    ctx: click.Context, change: Callable[[StaffStore], Awaitable[object]], said: str
) -> None:
    """Run one change of the store, then say `said`; a refusal is the command's error."""

    async def body(core: Core) -> None:
        try:
            await change(staff_store(core))
        except StaffError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(said)

    with_core(ctx, body)


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin or operator.")
@PASSWORD_STDIN
@click.pass_context
def add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Make the account NAME with ROLE (admin: everything; operator: no accounts, tokens
    or money). Recorded in the audit journal."""
    password = read_password(password_stdin)
    _change(
        ctx,
        lambda store: store.add(name, Role(role), password, actor=actor()),
        f"User {name!r} added, role {role}. Log in at /admin/login.",
    )


@users.command("passwd")
@click.argument("name")
@PASSWORD_STDIN
@click.pass_context
def passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set NAME's password; NAME's open sessions end."""
    password = read_password(password_stdin)
    _change(
        ctx,
        lambda store: store.set_password(name, password, actor=actor()),
        f"Password of {name!r} changed.",
    )


@users.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Disable NAME: it cannot log in, and its open sessions end at once."""
    _change(ctx, lambda store: store.disable(name, actor=actor()), f"User {name!r} disabled.")


@users.command("enable")
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Let a disabled NAME log in again."""
    _change(ctx, lambda store: store.enable(name, actor=actor()), f"User {name!r} enabled.")


@users.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Every account: name, role, made, last login, disabled."""

    async def body(core: Core) -> None:
        rows = await staff_store(core).list()
        if not rows:
            click.echo("No staff accounts. Make the first: pbxbridge users add NAME --role admin")
            return
        click.echo(
            table(
                ["name", "role", "created", "last login", "disabled"],
                [
                    [
                        u.name,
                        u.role.value,
                        local_time(core.clock, u.created_at),
                        local_time(core.clock, u.last_login_at),
                        local_time(core.clock, u.disabled_at),
                    ]
                    for u in rows
                ],
            )
        )

    with_core(ctx, body)
