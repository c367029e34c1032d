"""Alembic environment: runs on the connection the caller hands over (see storage.migrate)."""

from alembic import context
from sqlalchemy.engine import Connection

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `pbxbridge db upgrade` runs migrations
    raise RuntimeError("run migrations through `pbxbridge db upgrade` (storage.migrate)")

context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
