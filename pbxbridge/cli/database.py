"""`pbxbridge db …`: migrations and backups."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import click

from pbxbridge import migrations
from pbxbridge.cli.common import run, state
from storage import create_engine
from storage.engine import sqlite_path


@click.group()
def db() -> None:
    """Database migrations and backups."""


@db.command("upgrade")
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Apply every pending migration (the service also does this at start-up)."""
    settings = state(ctx).settings()

    async def body() -> None:
        engine = create_engine(settings.database)
        try:
            await migrations.upgrade(engine)
        finally:
            await engine.dispose()

    try:
        run(body())
    except Exception as exc:
        raise click.ClickException(
            f"migration failed on {settings.database.safe_url()}: {type(exc).__name__}: {exc}"
        ) from None
    click.echo(f"database {settings.database.safe_url()} is up to date")


def sqlite_backup(source: Path, target: Path) -> None:
    """Online copy through SQLite's backup API: consistent while the service writes."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, file: Path) -> None:
    """Make an online copy of the SQLite database into FILE."""
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
    except sqlite3.Error as exc:
        file.unlink(missing_ok=True)
        raise click.ClickException(f"backup failed: {exc}") from None
    click.echo(f"backed up {source} to {file}")
