"""Whether a component's migrations build exactly the tables its models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Connection

from tests.conftest import Database


async def schema_drift(db: Database, *models: Any) -> list[Any]:
    """Alembic's differences between the migrated database and `models`' tables (only
    those tables are compared; other components own the rest). Empty when they match."""
    mine = MetaData()
    for model in models:
        table = model.__table__
        assert isinstance(table, Table)
        table.to_metadata(mine)
    names = set(mine.tables)

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parents: kind != "table" or name in names,
            },
        )
        return list(compare_metadata(context, mine))

    async with db.engine.connect() as conn:
        return await conn.run_sync(diff)
