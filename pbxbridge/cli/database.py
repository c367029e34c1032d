"""`pbxbridge db …`: migrations and backups."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import click

from pbxbridge import migrations
from pbxbridge.cli.common import run, state
from pbxbridge.cli.format import one_line
from storage import create_engine
from storage.backup import sqlite_backup
from storage.engine import sqlite_path
from storage.migrate import Revision


@click.group()
def db() -> None:
    """Database migrations and backups."""


@db.command("upgrade")
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Apply every pending migration (the service also does this at start-up)."""
    settings = state(ctx).settings()

    async def body() -> list[Revision]:
        engine = create_engine(settings.database)
        try:
            return await migrations.upgrade(engine)
        finally:
            await engine.dispose()

    try:
        applied = run(body())
    except Exception as exc:
        raise click.ClickException(
            f"migration failed on {settings.database.safe_url()}: "
            f"{one_line(f'{type(exc).__name__}: {exc}')}"
        ) from None
    where = settings.database.safe_url()
    if not applied:
        click.echo(f"database {where} is already up to date")
        return
    click.echo(f"database {where}: applied {len(applied)} migration(s)")
    width = max(len(r.id) for r in applied)
    for revision in applied:
        click.echo(f"  {revision.id.ljust(width)}  {revision.about}")


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, file: Path) -> None:
    """Make an online copy of the SQLite database into a new FILE (mode 0600)."""
    settings = state(ctx).settings()
    source = sqlite_path(settings.database.url)
    if source is None:
        raise click.ClickException("db backup copies SQLite databases; for PostgreSQL use pg_dump")
    if not source.is_file():
        raise click.ClickException(f"no database at {source}")
    if file.exists():
        raise click.ClickException(f"{file} exists; choose a new file")
    try:
        asyncio.run(asyncio.to_thread(sqlite_backup, source, file))
    except FileExistsError:
        raise click.ClickException(f"{file} exists; choose a new file") from None
    except (sqlite3.Error, OSError) as exc:
        file.unlink(missing_ok=True)
        raise click.ClickException(f"backup failed: {exc}") from None
    click.echo(f"backed up {source} to {file}")
