"""`pbxbridge agi-probe`: the operator's FastAGI debugging tool."""

from __future__ import annotations

import asyncio

import click

from agi.probe import probe
from agi.request import split_script
from pbxbridge.app import AGI_ROUTES
from pbxbridge.cli.common import state


@click.command("agi-probe")
@click.argument("route")
@click.option("--callerid", required=True, help="The caller's number, as Asterisk would send it.")
@click.option("--arg", "args", multiple=True, help="agi_arg_N values, in order (repeat).")
@click.option("--digits", multiple=True, help="What the caller types at each GET DATA (repeat).")
@click.option("--host", help="Server address (default: agi.host, 127.0.0.1 when 0.0.0.0).")
@click.option("--port", type=int, help="Server port (default: agi.port).")
@click.option("--verbose", "-v", is_flag=True, help="Also print every command the route sent.")
@click.pass_context
def agi_probe(
    ctx: click.Context,
    route: str,
    callerid: str,
    args: tuple[str, ...],
    digits: tuple[str, ...],
    host: str | None,
    port: int | None,
    verbose: bool,
) -> None:
    """Play Asterisk against a running server and print the variables ROUTE sets.

    ROUTE may carry a query, e.g. `userstatus?say=1` or `paycardpay?card=1234…`.
    """
    name, _ = split_script(route)
    if name not in AGI_ROUTES:
        known = ", ".join(AGI_ROUTES)
        raise click.UsageError(f"unknown route {name!r}; the routes are: {known}", ctx)
    agi = state(ctx).settings().agi
    wildcard = agi.host in {"0.0.0.0", "::"}  # noqa: S104 - comparing, not binding
    target_host = host or ("127.0.0.1" if wildcard else agi.host)
    target_port = port or agi.port
    try:
        result = asyncio.run(
            probe(
                host=target_host,
                port=target_port,
                script=route,
                callerid=callerid,
                args=args,
                digits=digits,
            )
        )
    except (OSError, TimeoutError) as exc:
        raise click.ClickException(
            f"no FastAGI answer at {target_host}:{target_port}: {exc or 'timed out'} "
            "(is `pbxbridge run` running, and is this address in agi.allow?)"
        ) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if verbose:
        for command in result.commands:
            click.echo(f"> {command}")
    for message in result.verbose:
        click.echo(f"VERBOSE {message}")
    if not result.variables:
        click.echo("(no variables set)")
    for name, value in result.variables.items():
        click.echo(f"{name}={value}")
