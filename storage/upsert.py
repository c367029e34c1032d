"""INSERT … ON CONFLICT for the two databases pbxbridge runs on.

Read-then-insert races: two transactions both see no row, both insert, one fails with a
unique violation. The database's own upsert settles it atomically instead. SQLAlchemy has
it per dialect (`sqlalchemy.dialects.postgresql.insert`, `sqlalchemy.dialects.sqlite.insert`,
same API); `insert_for` picks the one for the session's connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for `table` (a mapped class or Table) with `.on_conflict_do_update()`."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")
