"""The webhooks' migration builds exactly the table its model describes."""

from __future__ import annotations

from tests.conftest import Database
from tests.schema import schema_drift
from webhooks.models import OutboxRow


async def test_migrations_match_models(database: Database) -> None:
    assert await schema_drift(database, OutboxRow) == []
