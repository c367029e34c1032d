"""The scheduler's migration builds exactly the tables its models describe."""

from __future__ import annotations

from jobs.models import JobLock, JobRun
from tests.conftest import Database
from tests.schema import schema_drift


async def test_migrations_match_models(database: Database) -> None:
    assert await schema_drift(database, JobRun, JobLock) == []
