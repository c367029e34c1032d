"""`pbxbridge check`: one line per part the service needs, whatever fails.

    OK    config     /etc/pbxbridge/pbxbridge.toml
    OK    database   sqlite+aiosqlite:////var/lib/pbxbridge/pbxbridge.db
    OK    migrations up to date
    FAIL  billing    Ubilling at http://billing/: Ubilling refused the key (ERROR:GET_WRONG_KEY)…
    WARN  ami        cannot connect to 127.0.0.1:5038: Connect call failed
    WARN  spool      waiting for Asterisk's /var/spool/asterisk/outgoing (campaigns and …
    OK    telegram   off

The service cannot work without its config, database, migrations and billing: a problem
there is FAIL and the exit status is 1. Without AMI, the spool or Telegram it still
answers calls: those are WARN (exit 0 when nothing failed). Each check catches whatever
its part raises and says it on its line, flattened to one line, capped, and with every
secret of the settings redacted: a driver's multi-line message or a traceback never
reaches the screen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from enum import StrEnum

import click
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ami_listener import AmiClient
from callfile_spooler.errors import SpoolMissing
from callfile_spooler.writer import SpoolFolder
from pbxbridge import migrations
from pbxbridge.app import Core, open_core
from pbxbridge.cli.common import state
from pbxbridge.cli.format import one_line
from pbxbridge.logs import redact
from pbxbridge.settings import Settings
from primitives.clock import Clock
from primitives.errors import PbxbridgeError
from telepony.mysql import CdrTable

log = logging.getLogger("pbxbridge.cli")

MIN_SECRET = 6

ITEMS = (
    "config",
    "database",
    "migrations",
    "billing",
    "ami",
    "spool",
    "telegram",
    "telepony",
)
DEADLINE = 10.0
"""Seconds any one check may take (a database or billing host that drops packets)."""


class Level(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class Line:
    level: Level
    item: str
    detail: str

    def render(self) -> str:
        return f"{self.level.value:<6}{self.item:<11}{self.detail}"


class Problem(PbxbridgeError):
    """A check's finding, said as is (no exception type in front)."""


def _explain(exc: BaseException) -> str:
    """Our own errors say what is wrong in words; a driver's gets its class name in front
    (`ConnectionRefusedError: …`), which is often the most telling part."""
    if isinstance(exc, PbxbridgeError) and str(exc):
        return str(exc)
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no answer within {DEADLINE:g} s"
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig  # the driver's words, without SQLAlchemy's wrapping and link
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class Checks:
    """Runs the checks in order; each adds exactly one line."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lines: list[Line] = []
        # Values too short to be real secrets (a test key "k") would garble every line;
        # no check quotes a secret except inside a URL, which redact() masks by its key=.
        self._secrets = [v for v in settings.secrets() if len(v) >= MIN_SECRET]

    def add(self, level: Level, item: str, detail: str) -> None:
        self.lines.append(Line(level, item, redact(one_line(detail), self._secrets)))

    async def run(
        self, item: str, check: Callable[[], Awaitable[str]], *, failure: Level = Level.FAIL
    ) -> bool:
        """One check: OK with what it returned, or `failure` with what it raised."""
        try:
            detail = await asyncio.wait_for(check(), DEADLINE)
        except Exception as exc:
            self.add(failure, item, _explain(exc))
            return False
        self.add(Level.OK, item, detail)
        return True

    def skip(self, items: tuple[str, ...], why: str) -> None:
        for item in items:
            self.add(Level.SKIP, item, f"skipped ({why})")


async def run_checks(settings: Settings, clock: Clock | None = None) -> list[Line]:
    """Every item after config, in order, one line each."""
    checks = Checks(settings)
    stack = AsyncExitStack()
    try:
        core = await stack.enter_async_context(open_core(settings, clock=clock))
    except Exception as exc:
        checks.add(Level.FAIL, "database", f"{settings.database.safe_url()}: {_explain(exc)}")
        checks.skip(("migrations", "billing"), "database unusable")
    else:
        if await checks.run("database", lambda: _database(core)):
            await checks.run("migrations", lambda: _migrations(core))
            await checks.run("billing", lambda: _billing(core))
        else:
            checks.skip(("migrations",), "database unreachable")
            if settings.billing.backend == "local":
                checks.skip(("billing",), "the embedded billing is in that database")
            else:
                await checks.run("billing", lambda: _billing(core))
    try:
        await stack.aclose()
    except Exception:  # what the checks found is the answer; closing is not part of it
        log.debug("closing after the checks failed", exc_info=True)
    await checks.run("ami", lambda: _ami(settings), failure=Level.WARN)
    await checks.run("spool", lambda: _spool(settings), failure=Level.WARN)
    await checks.run("telegram", lambda: _telegram(settings), failure=Level.WARN)
    await checks.run("telepony", lambda: _telepony(settings), failure=Level.WARN)
    return checks.lines


async def _database(core: Core) -> str:
    where = core.settings.database.safe_url()
    try:
        async with core.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise Problem(f"{where}: {_explain(exc)}") from None
    return where


async def _migrations(core: Core) -> str:
    pending = await migrations.pending(core.engine)
    if pending:
        raise Problem(f"pending {', '.join(pending)}: run `pbxbridge db upgrade`")
    return "up to date"


async def _billing(core: Core) -> str:
    billing = core.settings.billing
    where = "embedded (in the database)"
    if billing.backend == "ubilling":
        where = f"Ubilling at {billing.url}"
    try:
        await core.billing.check()
    except Exception as exc:
        raise Problem(f"{where}: {_explain(exc)}") from None
    return where


async def _ami(settings: Settings) -> str:
    if not settings.ami.enabled:
        return "off ([ami] enabled = false): no SMS, missed calls or call outcomes from AMI"
    client = AmiClient(settings.ami)
    return await client.try_login()


async def _spool(settings: Settings) -> str:
    folder = SpoolFolder(settings.spool)
    try:
        await asyncio.to_thread(folder.prepare)
    except SpoolMissing as exc:  # the service waits for it and starts spooling by itself
        raise Problem(exc.waiting) from None
    return str(settings.spool.dir)


async def _telegram(settings: Settings) -> str:
    telegram = settings.telegram
    if not telegram.active:
        if telegram.enabled:
            return "off: telegram.enabled is true but telegram.token is empty"
        return "off"
    from notify.service import bot_username  # aiogram costs seconds to import

    return f"{await bot_username(telegram, DEADLINE)} answers at {telegram.api_server}"


async def _telepony(settings: Settings) -> str:
    """Connects and counts the table's rows; creates nothing (the service does)."""
    feed = settings.telepony
    if not feed.enabled:
        return "off"
    table = CdrTable(feed)
    where = f"{feed.safe_url()} table {feed.table}"
    try:
        rows = await table.count()
    except Exception as exc:
        raise Problem(f"{where}: {_explain(exc)}") from None
    finally:
        await table.close()
    if rows is None:
        return f"{where}: missing, the service creates it"
    return f"{where}: {rows} row(s)"


@click.command("check")
@click.pass_context
def check_command(ctx: click.Context) -> None:
    """Check config, database, migrations, billing, AMI, spool, Telegram and the TelePony
    table: one line each. Exit 1 when the service cannot work (FAIL); WARN lines alone exit 0."""
    cli = state(ctx)
    try:
        settings = cli.settings()
    except click.ClickException as exc:
        head, *problems = [line.strip() for line in exc.message.splitlines() if line.strip()]
        detail = " ".join([head, "; ".join(problems)]) if problems else head
        click.echo(Line(Level.FAIL, "config", one_line(detail, 600)).render())
        for item in ITEMS[1:]:
            click.echo(Line(Level.SKIP, item, "skipped (no config)").render())
        ctx.exit(1)
    where = str(cli.config_file) if cli.config_file else "no file: defaults and environment"
    click.echo(Line(Level.OK, "config", where).render())
    lines = asyncio.run(run_checks(settings, cli.clock))
    for line in lines:
        click.echo(line.render())
    if any(line.level is Level.FAIL for line in lines):
        ctx.exit(1)
