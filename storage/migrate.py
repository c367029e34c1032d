"""Runs every component's Alembic history against one database.

Each component keeps its revisions in its own folder with a branch label (for example
`billing_client/migrations/versions`, label `billing_client`); the root passes the list
of folders in, so this module never imports a component.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

SCRIPT_LOCATION = Path(__file__).with_name("migrations")


def alembic_config(version_locations: Sequence[Path]) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in version_locations))
    return cfg


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration: its id and the first line of its message (`sms: the outbox worker`)."""

    id: str
    about: str


def _to_apply(conn: Connection, cfg: Config) -> list[Revision]:
    """Every revision the code knows that the database has not got, oldest first."""
    script = ScriptDirectory.from_config(cfg)
    current = MigrationContext.configure(conn).get_current_heads()
    have = {r.revision for r in script.iterate_revisions(current, "base") if r is not None}
    missing = [r for r in script.walk_revisions() if r.revision not in have]
    return [Revision(r.revision, (r.doc or "").strip().splitlines()[0]) for r in reversed(missing)]


def _upgrade(conn: Connection, cfg: Config, target: str) -> list[Revision]:
    applying = _to_apply(conn, cfg) if target == "heads" else []
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)
    return applying


def _pending(conn: Connection, cfg: Config) -> list[str]:
    """Branch heads the database has not reached. A head another branch's revision depends
    on (`depends_on`) is reached when that revision is: Alembic then keeps only the latter
    in alembic_version, so the current heads' ancestry is what counts."""
    script = ScriptDirectory.from_config(cfg)
    current = MigrationContext.configure(conn).get_current_heads()
    have = {r.revision for r in script.iterate_revisions(current, "base") if r is not None}
    return sorted(set(script.get_heads()) - have)


async def upgrade(
    engine: AsyncEngine, version_locations: Sequence[Path], target: str = "heads"
) -> list[Revision]:
    """Apply every pending revision (idempotent; safe to call at each start-up). What it
    applied, oldest first (for `heads`; empty when the database was up to date)."""
    cfg = alembic_config(version_locations)
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade, cfg, target)


async def pending_revisions(engine: AsyncEngine, version_locations: Sequence[Path]) -> list[str]:
    """Branch heads known to the code that the database has not reached."""
    cfg = alembic_config(version_locations)
    async with engine.connect() as conn:
        return await conn.run_sync(_pending, cfg)
