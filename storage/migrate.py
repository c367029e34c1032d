"""Runs every component's Alembic history against one database.

Each component keeps its revisions in its own folder with a branch label (for example
`billing_client/migrations/versions`, label `billing_client`); the root passes the list
of folders in, so this module never imports a component.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
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


def _upgrade(conn: Connection, cfg: Config, target: str) -> None:
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


def _pending(conn: Connection, cfg: Config) -> list[str]:
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    current = set(MigrationContext.configure(conn).get_current_heads())
    return sorted(heads - current)


async def upgrade(
    engine: AsyncEngine, version_locations: Sequence[Path], target: str = "heads"
) -> None:
    """Apply every pending revision (idempotent; safe to call at each start-up)."""
    cfg = alembic_config(version_locations)
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, cfg, target)


async def pending_revisions(engine: AsyncEngine, version_locations: Sequence[Path]) -> list[str]:
    """Branch heads known to the code that the database has not reached."""
    cfg = alembic_config(version_locations)
    async with engine.connect() as conn:
        return await conn.run_sync(_pending, cfg)
