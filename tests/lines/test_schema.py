"""The lines' migration builds exactly the tables their models describe."""

from __future__ import annotations

from sqlalchemy import select

from lines.models import LineRow, ReloadState
from tests.conftest import Database
from tests.schema import schema_drift


async def test_the_migration_matches_the_models(database: Database) -> None:
    assert await schema_drift(database, LineRow, ReloadState) == []
    async with database.sessions() as session:
        state = (await session.scalars(select(ReloadState))).all()
    assert [(s.id, s.pending, s.since, s.detail) for s in state] == [(1, False, None, "")]
