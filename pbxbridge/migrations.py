"""Every component's migration history, in one list the root hands to storage."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

import agi.migrations
import billing_client.migrations
import call_log.migrations
import callfile_spooler.migrations
import jobs.migrations
import lines.migrations
import missed_calls.migrations
import sms.migrations
import telepony.migrations
import web.migrations
import webhooks.migrations
from storage import migrate

VERSION_LOCATIONS: tuple[Path, ...] = (
    billing_client.migrations.VERSIONS,
    agi.migrations.VERSIONS,
    sms.migrations.VERSIONS,
    call_log.migrations.VERSIONS,
    missed_calls.migrations.VERSIONS,
    callfile_spooler.migrations.VERSIONS,
    web.migrations.VERSIONS,
    lines.migrations.VERSIONS,
    jobs.migrations.VERSIONS,
    telepony.migrations.VERSIONS,
    webhooks.migrations.VERSIONS,
)


async def upgrade(engine: AsyncEngine) -> list[migrate.Revision]:
    """Apply what is pending; the revisions applied, oldest first."""
    return await migrate.upgrade(engine, VERSION_LOCATIONS)


async def pending(engine: AsyncEngine) -> list[str]:
    return await migrate.pending_revisions(engine, VERSION_LOCATIONS)
