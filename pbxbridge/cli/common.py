"""What every CLI command shares: loading settings, opening the core, printing errors."""

from __future__ import annotations

import asyncio
import getpass
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError

from billing_client.local.admin import LocalAdmin
from billing_client.local.paycards import PaycardAdmin
from pbxbridge import migrations
from pbxbridge.app import Core, open_core
from pbxbridge.logs import configure_logging
from pbxbridge.settings import Settings, SettingsError, ignored_variables, load_settings
from primitives.clock import Clock

T = TypeVar("T")

DATE = click.DateTime(formats=["%Y-%m-%d"])


@dataclass
class CliState:
    """What the `pbxbridge` group hands its commands through click's `obj`.

    `clock` is the clock every command reads; None means the real one in the configured
    timezone. A caller that invokes the commands itself (tests, through CliRunner's `obj=`)
    passes its own, so dates the commands compute do not depend on the day they run.
    """

    config: Path | None = None
    clock: Clock | None = None
    _settings: Settings | None = None
    config_file: Path | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings, self.config_file = load_settings(self.config)
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from None
            configure_logging(
                self._settings.logging, self._settings.secrets(), self._settings.timezone
            )
            for warning in ignored_variables():
                logging.getLogger("pbxbridge.settings").warning("%s", warning)
        return self._settings


def state(ctx: click.Context) -> CliState:
    obj = ctx.find_object(CliState)
    assert obj is not None
    return obj


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def with_core(ctx: click.Context, body: Callable[[Core], Awaitable[T]]) -> T:
    """Open the core (database, billing client) around `body` and close it afterwards."""
    cli = state(ctx)
    settings = cli.settings()

    async def main() -> T:
        async with open_core(settings, clock=cli.clock) as core:
            try:
                return await body(core)
            except DBAPIError:
                await _explain_missing_migrations(core)
                raise

    try:
        return run(main())
    except (click.ClickException, click.exceptions.Exit):
        raise
    except Exception as exc:
        logging.getLogger("pbxbridge.cli").debug("command failed", exc_info=True)
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


async def _explain_missing_migrations(core: Core) -> None:
    """A database error in a database never migrated (or migrated by an older version)
    says `no such table`; what the operator needs to hear is what to run. The advice comes
    before the pending revisions (one per room, a list that grows): a caller that cuts the
    line (`pbxbridge line`'s one-line answers) keeps it."""
    try:
        behind = await migrations.pending(core.engine)
    except Exception:  # the original error is the one to report then
        return
    if behind:
        # What to run first: the list grows with every room, and a long line is cut.
        raise click.ClickException(
            f"the database {core.settings.database.safe_url()} is not up to date: run "
            f"`pbxbridge db upgrade` (`make run` does it); pending {', '.join(behind)}"
        )


def actor() -> str:
    """The person at the CLI, recorded in the audit journal."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _not_local(core: Core) -> click.ClickException:
    return click.ClickException(
        "this command manages the embedded billing; billing.backend is "
        f"{core.settings.billing.backend!r}, so do it in that billing instead"
    )


def local_admin(core: Core) -> LocalAdmin:
    if core.local is None:
        raise _not_local(core)
    return core.local


def paycard_admin(core: Core) -> PaycardAdmin:
    if core.paycards is None:
        raise _not_local(core)
    return core.paycards
