"""`pbxbridge line …`: voice lines, speaking BILLmanager's ShellScripts protocol.

BILLmanager runs `open.sh`, `suspend.sh`, `resume.sh`, `close.sh` and `setparam.sh`
(deploy/billmanager/) over SSH, which run these commands with BILLmanager's arguments as
they came: `--user=<username>`, `--password=<password>`, `--id=<externalid>` and
`--<param>=<value>` / `--<addon>=<value>` for every parameter and addon of the tariff.
Click cannot declare `--anything=value`, so these five commands take their arguments
unparsed and read them here (`parse_arguments`).

What BILLmanager reads back, on stdout:
- success: exit status 0 and exactly one line starting with `OK`; for `open`,
  `OK --id=<line> --username=<line> --password=<password>` (BILLmanager keeps these as the
  service's parameters, the id as its externalid for the later calls);
- failure: exit status 1 and one line, `ERROR: <reason>` (never starting with OK).
Warnings (a parameter ignored, a reload left pending) go to stderr, one line each, as do
the log lines. The SIP password is printed in `open`'s OK line only, never logged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import click

from lines import Done, LineError
from lines.errors import LineRefused
from lines.service import Lines
from pbxbridge import line_hooks
from pbxbridge.app import Core
from pbxbridge.cli.common import with_core
from pbxbridge.cli.format import echo_err, local_time, one_line, table

FREE_FORM = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": ["-h", "--help"],
}
_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
SPECIAL = ("user", "password", "id")


@dataclass
class Arguments:
    """BILLmanager's arguments: the three it always names, the rest as parameters."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def parse_arguments(args: Sequence[str]) -> Arguments:
    """`--key=value` each (the value may hold `=` or be empty); anything else is ignored
    with a warning, and so is a repeated key (the last one counts)."""
    parsed = Arguments()
    seen: set[str] = set()
    for arg in args:
        key, eq, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if not eq or not _KEY.fullmatch(key):
            parsed.warnings.append(f"argument {arg[:40]!r} ignored (not --name=value)")
            continue
        if key in seen:
            parsed.warnings.append(f"--{key} given twice: the last one counts")
        seen.add(key)
        if key in SPECIAL:
            setattr(parsed, key, value)
        else:
            parsed.params[key] = value
    return parsed


@dataclass(frozen=True)
class _Outcome:
    ok: str | None
    error: str | None
    warnings: tuple[str, ...]


def _answer(
    ctx: click.Context, args: Sequence[str], act: Callable[[Core, Arguments], Awaitable[str]]
) -> None:
    """Run one ShellScripts command and answer in its protocol (see the module docstring)."""
    parsed = parse_arguments(args)

    async def body(core: Core) -> _Outcome:
        try:
            ok = await act(core, parsed)
        except LineError as exc:  # refused (LineRefused) or failed: its one-line reason
            return _Outcome(None, str(exc), tuple(parsed.warnings))
        return _Outcome(ok, None, tuple(parsed.warnings))

    try:
        outcome = with_core(ctx, body)
    except click.ClickException as exc:
        outcome = _Outcome(None, exc.format_message(), tuple(parsed.warnings))
    for warning in outcome.warnings:
        echo_err(f"warning: {one_line(warning)}")
    if outcome.error is not None:
        click.echo(f"ERROR: {one_line(outcome.error)}")
        ctx.exit(1)
    click.echo(outcome.ok)


def _require_id(parsed: Arguments) -> str:
    if not parsed.id:
        raise LineRefused("--id=<line> is required (the id open answered)")
    return parsed.id


def _kept(done: Done, parsed: Arguments) -> str:
    parsed.warnings.extend(done.warnings)
    return "OK"


@click.group("line")
def line() -> None:
    """Voice lines sold through BILLmanager (its ShellScripts call these)."""


@line.command("open", context_settings=FREE_FORM, add_help_option=True)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def open_(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Open a line: --user=LOGIN [--password=P] [--callerid=…] [--max_channels=N]
    [--codecs=ulaw,alaw]; other --name=value are ignored. Prints
    `OK --id=… --username=… --password=…`."""

    async def act(core: Core, parsed: Arguments) -> str:
        login = None
        if parsed.user:
            known = await line_hooks.known_login(core.billing, parsed.user)
            if known is None:
                parsed.warnings.append(
                    f"the billing could not say whether {parsed.user} is a subscriber: the "
                    "line follows no subscriber"
                )
            login = parsed.user if known else None
        done = await core.lines.open(
            account=parsed.user, login=login, password=parsed.password, params=parsed.params
        )
        assert done.line is not None
        assert done.password is not None
        parsed.warnings.extend(done.warnings)
        name = done.line.name
        return f"OK --id={name} --username={name} --password={done.password}"

    _answer(ctx, args, act)


def _by_id(
    method: Callable[[Lines, str], Awaitable[Done]],
) -> Callable[[Core, Arguments], Awaitable[str]]:
    async def act(core: Core, parsed: Arguments) -> str:
        if parsed.params:
            parsed.warnings.append(
                f"parameters ignored here: {', '.join('--' + k for k in parsed.params)}"
            )
        return _kept(await method(core.lines, _require_id(parsed)), parsed)

    return act


@line.command("suspend", context_settings=FREE_FORM)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def suspend(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Suspend a line (--id=…): it stays, its calls hear that it is suspended."""
    _answer(ctx, args, _by_id(Lines.suspend))


@line.command("resume", context_settings=FREE_FORM)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def resume(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Resume a suspended line (--id=…)."""
    _answer(ctx, args, _by_id(Lines.resume))


@line.command("close", context_settings=FREE_FORM)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def close(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Close a line (--id=…): removed from Asterisk; its id is never given again."""
    _answer(ctx, args, _by_id(Lines.close))


@line.command("setparam", context_settings=FREE_FORM)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def setparam(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Change a line (--id=…): --callerid=…, --max_channels=N, --codecs=…; other
    --name=value are ignored."""

    async def act(core: Core, parsed: Arguments) -> str:
        return _kept(await core.lines.setparam(_require_id(parsed), parsed.params), parsed)

    _answer(ctx, args, act)


@line.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Closed lines too.")
@click.pass_context
def list_(ctx: click.Context, include_closed: bool) -> None:
    """The lines, one a line (never their passwords), and a reload Asterisk still owes."""

    async def body(core: Core) -> None:
        views = await core.lines.views(include_closed=include_closed)
        pending = await core.lines.pending()
        headers = ["line", "state", "user", "follows", "callerid", "channels", "codecs", "changed"]
        rows: list[list[object]] = [
            [
                v.name,
                v.state,
                v.account or "-",
                v.login or "-",
                v.callerid or "-",
                v.max_channels,
                ",".join(v.codecs),
                local_time(core.clock, v.updated_at),
            ]
            for v in views
        ]
        if views:
            click.echo(table(headers, rows))
        else:
            click.echo("No lines." if include_closed else "No open lines.")
        click.echo(f"PJSIP file: {core.settings.lines.pjsip_file}")
        if pending.pending:
            click.echo(
                f"Reload pending since {local_time(core.clock, pending.since)}: "
                f"{pending.detail} (the service sends it when AMI is up)"
            )

    with_core(ctx, body)


@line.command("sync")
@click.pass_context
def sync(ctx: click.Context) -> None:
    """Rewrite the PJSIP file from the database and reload it; with the embedded billing,
    lines first follow their subscribers (frozen or disabled: held)."""

    async def body(core: Core) -> None:
        async def unknown(_: str) -> bool | None:
            return None

        blocked = line_hooks.blocked_of(core.local) if core.local is not None else unknown
        try:
            done = await core.lines.sync(blocked, rewrite=True)
        except LineError as exc:
            raise click.ClickException(str(exc)) from None
        for warning in done.warnings:
            echo_err(f"warning: {one_line(warning)}")
        count = len(await core.lines.views())
        reload = done.reload.detail if done.reload is not None else "-"
        click.echo(f"{core.settings.lines.pjsip_file} written: {count} open lines; {reload}")

    with_core(ctx, body)
