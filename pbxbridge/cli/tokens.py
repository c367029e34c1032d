"""`pbxbridge tokens …`: bearer tokens for the REST API (/api/v1/)."""

from __future__ import annotations

import click

from pbxbridge.app import Core
from pbxbridge.cli.common import actor, with_core
from pbxbridge.cli.format import local_time, table
from web.errors import TokenError
from web.tokens import Scope, TokenStore

SCOPES = [s.value for s in Scope]


def token_store(core: Core) -> TokenStore:
    return TokenStore(core.sessions, core.clock, core.audit)


@click.group()
def tokens() -> None:
    """API tokens: create (shown once), list, revoke."""


@tokens.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="What the token may do (repeat for several); none: everything the API offers.",
)
@click.pass_context
def create(ctx: click.Context, name: str, scopes: tuple[str, ...]) -> None:
    """Make a token called NAME and print it. It is shown this once: only its hash is kept.
    The token is the last line of the output, alone (for scripts: `| tail -n 1`)."""

    async def body(core: Core) -> str:
        try:
            made = await token_store(core).create(
                name, frozenset(Scope(s) for s in scopes) or None, actor=actor()
            )
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"Token {made.info.name!r} created, scopes: {made.info.describe_scopes()}. "
            "Copy it now: it is not shown again. Use it as 'Authorization: Bearer <token>'."
        )
        return made.token

    token = with_core(ctx, body)
    click.echo(token)


@tokens.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Every token: name, scopes, when made, last used (to the minute) and revoked."""

    async def body(core: Core) -> None:
        rows = await token_store(core).list()
        if not rows:
            click.echo("No API tokens. Make one: pbxbridge tokens create NAME")
            return
        click.echo(
            table(
                ["name", "scopes", "created", "last used", "revoked"],
                [
                    [
                        t.name,
                        t.describe_scopes(),
                        local_time(core.clock, t.created_at),
                        local_time(core.clock, t.last_used_at),
                        local_time(core.clock, t.revoked_at),
                    ]
                    for t in rows
                ],
            )
        )

    with_core(ctx, body)


@tokens.command("revoke")
@click.argument("name")
@click.pass_context
def revoke(ctx: click.Context, name: str) -> None:
    """Revoke the token NAME: it gets 401 from now on. Recorded in the audit journal."""

    async def body(core: Core) -> None:
        try:
            await token_store(core).revoke(name, actor=actor())
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Token {name!r} revoked.")

    with_core(ctx, body)
